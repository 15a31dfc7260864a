package service

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// homeDirs are the trees ProtectHome= hides or makes read-only.
var homeDirs = []string{"/home", "/root", "/run/user"}

// systemdUser is a user name systemd accepts in User= (a name or a numeric id).
var systemdUser = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}\$?$`)

// SystemdUnit renders the systemd unit that install writes for opts: the
// absolute executable started as "run --config <absolute config>", restarted
// 5 s after a failure, given StopTimeout+5 s to stop, and confined to the
// configured folders (ProtectSystem=strict with ReadWritePaths=). Defaults are
// applied as New applies them.
func SystemdUnit(opts Options) (string, error) {
	opts, err := opts.normalize()
	if err != nil {
		return "", err
	}
	return renderSystemdUnit(opts)
}

// renderSystemdUnit renders the unit for normalized opts.
func renderSystemdUnit(opts Options) (string, error) {
	if opts.User != "" && !systemdUser.MatchString(opts.User) {
		return "", fmt.Errorf("service: %w: user %q is not a valid Linux user name (use e.g. flinkdrop)", ErrInvalidOption, opts.User)
	}
	for _, p := range append([]string{opts.Executable, opts.ConfigPath}, opts.ReadWritePaths...) {
		if p != "" && !strings.HasPrefix(p, "/") {
			return "", fmt.Errorf("service: %w: %q is not an absolute Linux path (systemd needs paths starting with /)", ErrInvalidOption, p)
		}
	}

	exec := []string{systemdExecWord(opts.Executable, false)}
	for _, a := range opts.arguments() {
		exec = append(exec, systemdExecWord(a, true))
	}
	rw := make([]string, 0, len(opts.ReadWritePaths))
	for _, p := range opts.ReadWritePaths {
		// "-": a folder missing at start does not stop the namespace being set
		// up; the daemon then reports it as not writable, naming it.
		rw = append(rw, systemdExecWord("-"+p, false))
	}
	protectHome := "read-only"
	for _, p := range opts.ReadWritePaths {
		if underHome(p) {
			protectHome = "no" // a folder to write lives under a home directory
			break
		}
	}
	stopSec := int64((opts.StopTimeout + 5*time.Second + time.Second - 1) / time.Second)

	var b strings.Builder
	line := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	line("# %s.service: written by \"flinkdrop service install\"; to change it, uninstall and install again.", opts.Name)
	line("[Unit]")
	line("Description=%s", systemdEscapeSpecifiers(opts.Description))
	line("Wants=network-online.target")
	line("After=network-online.target")
	line("")
	line("[Service]")
	line("Type=simple")
	line("ExecStart=%s", strings.Join(exec, " "))
	line("Restart=on-failure")
	line("RestartSec=5")
	line("TimeoutStopSec=%d", stopSec)
	if opts.User != "" {
		line("User=%s", opts.User)
	}
	if opts.ConfigPath != "" {
		// Optional KEY=value lines for ${NAME} in the config (secrets).
		env := filepath.Join(filepath.Dir(opts.ConfigPath), opts.Name+".env")
		line("EnvironmentFile=-%s", systemdEscapeSpecifiers(env))
	}
	line("NoNewPrivileges=yes")
	line("ProtectSystem=strict")
	line("ProtectHome=%s", protectHome)
	line("PrivateTmp=yes")
	if len(rw) > 0 {
		line("ReadWritePaths=%s", strings.Join(rw, " "))
	}
	line("")
	line("[Install]")
	line("WantedBy=multi-user.target")
	return b.String(), nil
}

// underHome reports whether p is, or is inside, a tree ProtectHome= covers,
// also after resolving symbolic links when p exists.
func underHome(p string) bool {
	candidates := []string{p}
	if real, err := filepath.EvalSymlinks(p); err == nil {
		candidates = append(candidates, real)
	}
	for _, c := range candidates {
		c = filepath.ToSlash(c)
		for _, h := range homeDirs {
			if c == h || strings.HasPrefix(c, h+"/") {
				return true
			}
		}
	}
	return false
}

// systemdEscapeSpecifiers doubles '%', which systemd reads as a specifier.
func systemdEscapeSpecifiers(s string) string {
	return strings.ReplaceAll(s, "%", "%%")
}

// systemdExecWord renders one word of a command line or path list as systemd
// reads it back: '%' doubled, and the word in double quotes with '\' and '"'
// escaped when it holds a blank, a quote, a backslash or ';'. dollar doubles
// '$' too, for arguments (systemd expands $NAME in them, not in the program
// path).
func systemdExecWord(s string, dollar bool) string {
	s = systemdEscapeSpecifiers(s)
	if dollar {
		s = strings.ReplaceAll(s, "$", "$$")
	}
	if s != "" && !strings.ContainsAny(s, " \t\"'\\;") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}

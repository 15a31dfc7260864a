package service

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/rs/zerolog"

	"github.com/flinkdrop/flinkdrop/internal/clock"
)

// Defaults for the zero values of Options.
const (
	DefaultName        = "flinkdrop"
	DefaultDisplayName = "flinkdrop"
	DefaultDescription = "Sends folders of scanned bank statements to the Flinks Upload API"
	DefaultStopTimeout = 10 * time.Second
)

// Options configures the service. The zero value of every field means its
// default.
type Options struct {
	// Name is the service's name for systemd (Name.service) and the Windows
	// Service Control Manager. Default "flinkdrop".
	Name string
	// DisplayName is the Windows display name. Default "flinkdrop".
	DisplayName string
	// Description is shown by systemctl status and the Windows services list.
	Description string
	// ConfigPath is the config file the service runs with; it is made
	// absolute and recorded in the service's arguments:
	// run --config <absolute path>. Empty: the service runs with "run" only.
	ConfigPath string
	// Executable is the program the service manager starts. Default
	// os.Executable(). Made absolute.
	Executable string
	// User is the account the service runs as: User= on systemd; on Windows
	// the service logon account (a virtual account such as
	// "NT SERVICE\flinkdrop" needs no password). Empty: root / LocalSystem.
	User string
	// ReadWritePaths are the configured folders (state_dir, inboxes,
	// outboxes, archives, failed folders, the log directory): the only
	// places the systemd unit lets the daemon write.
	ReadWritePaths []string
	// StopTimeout bounds how long Stop waits for the Runner. Default 10s.
	StopTimeout time.Duration
	// Clock times the stop. Default clock.Real().
	Clock clock.Clock
	// Log receives the adapter's own lines. The zero Logger discards them.
	Log zerolog.Logger
}

// serviceName is what systemd and the Windows SCM both accept.
var serviceName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@-]{0,79}$`)

// normalize returns opts with the defaults applied and every path absolute,
// or an error naming the field and the fix.
func (opts Options) normalize() (Options, error) {
	if opts.Name == "" {
		opts.Name = DefaultName
	}
	if !serviceName.MatchString(opts.Name) {
		return opts, fmt.Errorf("service: %w: name %q: use letters, digits, '_', '.', '@' or '-' (at most 80)", ErrInvalidOption, opts.Name)
	}
	if opts.DisplayName == "" {
		opts.DisplayName = DefaultDisplayName
	}
	if opts.Description == "" {
		opts.Description = DefaultDescription
	}
	if opts.StopTimeout == 0 {
		opts.StopTimeout = DefaultStopTimeout
	}
	if opts.StopTimeout < 0 {
		return opts, fmt.Errorf("service: %w: stop timeout %s is negative (leave it 0 for %s)", ErrInvalidOption, opts.StopTimeout, DefaultStopTimeout)
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	if opts.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return opts, fmt.Errorf("service: find this program's path: %w (set the executable explicitly)", err)
		}
		opts.Executable = exe
	}
	var err error
	if opts.Executable, err = absPath("executable", opts.Executable); err != nil {
		return opts, err
	}
	if opts.ConfigPath != "" {
		if opts.ConfigPath, err = absPath("config path", opts.ConfigPath); err != nil {
			return opts, err
		}
	}
	paths := make([]string, 0, len(opts.ReadWritePaths))
	for _, p := range opts.ReadWritePaths {
		if strings.TrimSpace(p) == "" {
			continue
		}
		abs, err := absPath("read-write path", p)
		if err != nil {
			return opts, err
		}
		paths = append(paths, abs)
	}
	slices.Sort(paths)
	opts.ReadWritePaths = slices.Compact(paths)

	for _, f := range []struct{ name, value string }{
		{"display name", opts.DisplayName},
		{"description", opts.Description},
		{"user", opts.User},
	} {
		if err := checkText(f.name, f.value); err != nil {
			return opts, err
		}
	}
	return opts, nil
}

// absPath makes p absolute and clean, refusing text a service file cannot
// carry.
func absPath(what, p string) (string, error) {
	if err := checkText(what, p); err != nil {
		return "", err
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("service: %s %q: %w (give an absolute path)", what, p, err)
	}
	return abs, nil
}

// checkText refuses control characters (a line break would end a line of the
// unit file) and "{{", which the service library's template engine would
// read as an action.
func checkText(what, s string) error {
	if i := strings.IndexFunc(s, unicode.IsControl); i >= 0 {
		return fmt.Errorf("service: %w: %s %q has a control character at byte %d (remove it)", ErrInvalidOption, what, s, i)
	}
	if strings.Contains(s, "{{") {
		return fmt.Errorf("service: %w: %s %q contains \"{{\", which a service file cannot carry (rename it)", ErrInvalidOption, what, s)
	}
	return nil
}

// arguments are the command-line arguments the service manager starts the
// executable with.
func (opts Options) arguments() []string {
	if opts.ConfigPath == "" {
		return []string{"run"}
	}
	return []string{"run", "--config", opts.ConfigPath}
}

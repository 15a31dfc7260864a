package config

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxMB bounds the size limits so that bytes never overflow.
const maxMB = 1 << 20

// validLogLevels are the accepted log.level values.
func validLogLevels() []string { return []string{"trace", "debug", "info", "warn", "error"} }

// Validate checks a Config, whether parsed or built in code. Paths must be
// absolute. The error joins one *FieldError per problem.
func (c *Config) Validate() error {
	problems := c.validate()
	errs := make([]error, len(problems))
	for i, p := range problems {
		errs[i] = p
	}
	return errors.Join(errs...)
}

// checker collects problems.
type checker struct{ errs []*FieldError }

func (ch *checker) add(key, format string, args ...any) {
	ch.errs = append(ch.errs, &FieldError{Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (ch *checker) required(key, value, fix string) {
	if strings.TrimSpace(value) == "" {
		ch.add(key, "required (%s)", fix)
	}
}

func (ch *checker) absPath(key, p string) {
	if p != "" && !filepath.IsAbs(p) {
		ch.add(key, "%q is not an absolute path (write the full path)", p)
	}
}

// httpsURL checks a URL of the API. It never prints a password the URL
// might hold.
func (ch *checker) httpsURL(key, raw string) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		ch.add(key, "cannot be parsed as a URL: %v (write it like https://host/path)", err)
		return
	}
	switch {
	case u.User != nil:
		ch.add(key, "must not hold a user name or password (credentials go in their own keys)")
	case u.Scheme != "https":
		ch.add(key, "%q is not an https URL (Flinks is reached over TLS only; write it like https://host/path)", u.Redacted())
	case u.Host == "":
		ch.add(key, "%q has no host name (write it like https://host/path)", u.Redacted())
	case u.RawQuery != "" || u.Fragment != "":
		ch.add(key, "%q must not have a ?query or #fragment (remove it)", u.Redacted())
	case strings.Contains(u.Host, "INSTANCE"):
		ch.add(key, "%q still holds the INSTANCE placeholder (replace it with your Flinks instance, toolbox for the sandbox)", u.Redacted())
	}
}

func (ch *checker) atLeast(key string, n, low int, fix string) {
	if n < low {
		ch.add(key, "%d is too small: must be at least %d (%s)", n, low, fix)
	}
}

func (ch *checker) atMost(key string, n, high int) {
	if n > high {
		ch.add(key, "%d is too large: must be at most %d", n, high)
	}
}

func (ch *checker) durationAtLeast(key string, d, low time.Duration) {
	if d < low {
		if low == 0 {
			ch.add(key, "%s is negative (write 0 or a positive duration like 5s)", d)
			return
		}
		ch.add(key, "%s is too short: must be at least %s (write it like %s)", d, low, low)
	}
}

func (c *Config) validate() []*FieldError {
	ch := &checker{}
	f := c.Flinks
	ch.httpsURL("flinks.upload_url", f.UploadURL)
	ch.required("flinks.client_id", f.ClientID, "the client id Flinks issued")
	if f.ClientSecret.IsZero() {
		ch.add("flinks.client_secret", "required (write client_secret: ${FLINKS_CLIENT_SECRET}, or client_secret_file: with the path of a file holding it)")
	}
	ch.required("flinks.scope", f.Scope, "the default is "+DefaultScope)

	t := f.TLS
	hasPair := t.CertFile != "" || t.KeyFile != ""
	switch {
	case hasPair && t.PFXFile != "":
		ch.add("flinks.tls.pfx_file", "set either cert_file and key_file, or pfx_file, not both (remove one)")
	case !hasPair && t.PFXFile == "":
		ch.add("flinks.tls", "a client certificate is required (set cert_file and key_file to the PEM files Flinks issued, or pfx_file)")
	case t.CertFile == "" && t.KeyFile != "":
		ch.add("flinks.tls.cert_file", "required with key_file (the PEM certificate Flinks issued)")
	case t.KeyFile == "" && t.CertFile != "":
		ch.add("flinks.tls.key_file", "required with cert_file (the PEM private key of the certificate)")
	}
	if !t.PFXPassword.IsZero() && t.PFXFile == "" {
		ch.add("flinks.tls.pfx_password", "set without pfx_file (remove it, or set pfx_file)")
	}
	ch.absPath("flinks.tls.cert_file", t.CertFile)
	ch.absPath("flinks.tls.key_file", t.KeyFile)
	ch.absPath("flinks.tls.pfx_file", t.PFXFile)
	ch.absPath("flinks.tls.ca_file", t.CAFile)

	fr := f.Fraud
	if fr.URL != "" {
		ch.httpsURL("flinks.fraud.url", fr.URL)
		ch.required("flinks.fraud.customer_id", fr.CustomerID, "the customer id Flinks issued, needed with fraud.url")
		if fr.APIKey.IsZero() {
			ch.add("flinks.fraud.api_key", "required with fraud.url (write api_key: ${FLINKS_API_KEY}, or api_key_file: with the path of a file holding it)")
		}
	}
	ch.durationAtLeast("flinks.fraud.poll_interval", fr.PollInterval, time.Second)
	switch {
	case fr.Timeout <= 0:
		ch.add("flinks.fraud.timeout", "%s must be positive (the default is %s)", fr.Timeout, DefaultFraudTimeout)
	case fr.Timeout < fr.PollInterval:
		ch.add("flinks.fraud.timeout", "%s is shorter than poll_interval %s (analysis takes up to hours; the default is %s)", fr.Timeout, fr.PollInterval, DefaultFraudTimeout)
	}

	l := c.Limits
	ch.atLeast("limits.max_file_mb", l.MaxFileMB, 1, "the default is 18")
	ch.atLeast("limits.max_session_mb", l.MaxSessionMB, 1, "the default is 180")
	ch.atLeast("limits.max_files_per_session", l.MaxFilesPerSession, 1, "the default is 24")
	ch.atMost("limits.max_file_mb", l.MaxFileMB, maxMB)
	ch.atMost("limits.max_session_mb", l.MaxSessionMB, maxMB)
	if l.MaxFileMB > l.MaxSessionMB && l.MaxSessionMB >= 1 {
		ch.add("limits.max_file_mb", "%d is more than max_session_mb %d (a file that big could never be sent; lower it)", l.MaxFileMB, l.MaxSessionMB)
	}
	if len(l.Types) == 0 {
		ch.add("limits.types", "at least one type is required (the default is [%s])", strings.Join(KnownTypes(), ", "))
	}
	for i, typ := range l.Types {
		if !slices.Contains(KnownTypes(), typ) {
			ch.add("limits.types["+strconv.Itoa(i)+"]", "%q is not a type Flinks accepts (use some of %s, lower case, no dot)", typ, strings.Join(KnownTypes(), ", "))
		}
	}

	ch.required("state_dir", c.StateDir, "a folder for the database and the status file")
	ch.absPath("state_dir", c.StateDir)
	if c.Retention <= 0 {
		ch.add("retention", "%s must be positive (the default is %s)", c.Retention, DefaultRetention)
	}
	ch.atLeast("workers", c.Workers, 1, "the number of sessions uploaded at once; the default is 4")
	ch.durationAtLeast("retry.base", c.Retry.Base, 10*time.Millisecond)
	if c.Retry.Max < c.Retry.Base {
		ch.add("retry.max", "%s is shorter than retry.base %s (the default is %s)", c.Retry.Max, c.Retry.Base, DefaultRetryMax)
	}
	if c.Retry.CredentialsMax < c.Retry.Base {
		ch.add("retry.credentials_max", "%s is shorter than retry.base %s (the default is %s)", c.Retry.CredentialsMax, c.Retry.Base, DefaultRetryCredsMax)
	}

	if len(c.Inboxes) == 0 {
		ch.add("inboxes", "at least one inbox is required (add one with path, outbox, archive and failed)")
	}
	for i, in := range c.Inboxes {
		c.validateInbox(ch, i, in)
	}
	c.validateOverlaps(ch)

	lg := c.Log
	if !slices.Contains(validLogLevels(), lg.Level) {
		ch.add("log.level", "%q is not a level (use one of %s)", lg.Level, strings.Join(validLogLevels(), ", "))
	}
	ch.absPath("log.file", lg.File)
	ch.atLeast("log.max_size_mb", lg.MaxSizeMB, 1, "the size a log file is rotated at; the default is 100")
	ch.atLeast("log.max_backups", lg.MaxBackups, 0, "0 keeps every rotated file")
	ch.atLeast("log.max_age_days", lg.MaxAgeDays, 0, "0 keeps rotated files forever")
	switch lg.Console {
	case ConsoleAuto, ConsoleJSON, ConsolePretty:
	default:
		ch.add("log.console", "%q is not a console format (use auto, json or pretty)", lg.Console)
	}
	return ch.errs
}

func (c *Config) validateInbox(ch *checker, i int, in Inbox) {
	k := "inboxes[" + strconv.Itoa(i) + "]."
	ch.required(k+"path", in.Path, "the folder scanners drop files into")
	ch.required(k+"outbox", in.Outbox, "the folder reports are written to")
	ch.required(k+"failed", in.Failed, "the folder files of failed sessions go to")
	switch in.AfterSuccess {
	case AfterSuccessMove:
		ch.required(k+"archive", in.Archive, "the folder uploaded files go to; or set after_success: delete")
	case AfterSuccessDelete:
	default:
		ch.add(k+"after_success", "%q is not an action (use move or delete)", in.AfterSuccess)
	}
	for _, p := range []struct{ key, path string }{
		{"path", in.Path}, {"outbox", in.Outbox}, {"archive", in.Archive}, {"failed", in.Failed},
	} {
		ch.absPath(k+p.key, p.path)
	}
	for j, g := range in.Ignore {
		if g == "" {
			ch.add(k+"ignore["+strconv.Itoa(j)+"]", "empty pattern (remove it)")
		} else if _, err := filepath.Match(g, ""); err != nil {
			ch.add(k+"ignore["+strconv.Itoa(j)+"]", "%q is not a valid glob: %v (write it like *.bak)", g, err)
		}
	}
	ch.durationAtLeast(k+"stable_for", in.StableFor, 0)
	ch.durationAtLeast(k+"settle", in.Settle, 0)
	ch.durationAtLeast(k+"rescan_interval", in.RescanInterval, time.Second)
	if m := in.ReadyMarker; m != "" && (m == "." || m == ".." || strings.ContainsAny(m, `/\`) || filepath.Base(m) != m) {
		ch.add(k+"ready_marker", "%q must be a plain file name (like READY), not a path", m)
	}
}

// validateOverlaps rejects folders that would feed the daemon its own
// output: an outbox, archive, failed folder, state_dir or log file inside
// an inbox, and inboxes inside one another.
func (c *Config) validateOverlaps(ch *checker) {
	for i, a := range c.Inboxes {
		if a.Path == "" {
			continue
		}
		ka := "inboxes[" + strconv.Itoa(i) + "]"
		for j, b := range c.Inboxes {
			if i == j || b.Path == "" {
				continue
			}
			kb := "inboxes[" + strconv.Itoa(j) + "].path"
			switch {
			case samePath(a.Path, b.Path) && i > j:
				ch.add(ka+".path", "%s is the same folder as %s (give each inbox its own folder)", a.Path, kb)
			case !samePath(a.Path, b.Path) && within(a.Path, b.Path):
				ch.add(ka+".path", "%s is inside %s %s, so its files would be taken twice (move it outside)", a.Path, kb, b.Path)
			}
		}
	}
	type folder struct{ key, path string }
	var outputs []folder
	for i, in := range c.Inboxes {
		k := "inboxes[" + strconv.Itoa(i) + "]."
		outputs = append(outputs, folder{k + "outbox", in.Outbox}, folder{k + "archive", in.Archive}, folder{k + "failed", in.Failed})
	}
	outputs = append(outputs, folder{"state_dir", c.StateDir}, folder{"log.file", c.Log.File})
	for _, o := range outputs {
		if o.path == "" {
			continue
		}
		for j, in := range c.Inboxes {
			if in.Path != "" && within(o.path, in.Path) {
				ch.add(o.key, "%s is inside inboxes[%d].path %s, so what is written there would be uploaded (move it outside every inbox)", o.path, j, in.Path)
				break
			}
		}
	}
}

// within reports whether child is parent or inside it.
func within(child, parent string) bool {
	rel, err := filepath.Rel(foldPath(filepath.Clean(parent)), foldPath(filepath.Clean(child)))
	if err != nil {
		return false
	}
	return rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

func samePath(a, b string) bool {
	return foldPath(filepath.Clean(a)) == foldPath(filepath.Clean(b))
}

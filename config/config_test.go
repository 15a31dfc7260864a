package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flinkdrop/flinkdrop/internal/secret"
)

func TestDefault(t *testing.T) {
	d := Default()
	tests := []struct {
		name      string
		got, want any
	}{
		{"upload_url", d.Flinks.UploadURL, "https://upload-mtls.flinksapp.com/api/v1"},
		{"scope", d.Flinks.Scope, "ocr.write"},
		{"poll_interval", d.Flinks.Fraud.PollInterval, 30 * time.Second},
		{"timeout", d.Flinks.Fraud.Timeout, 6 * time.Hour},
		{"fraud.url", d.Flinks.Fraud.URL, ""},
		{"max_file_mb", d.Limits.MaxFileMB, 18},
		{"max_session_mb", d.Limits.MaxSessionMB, 180},
		{"max_files_per_session", d.Limits.MaxFilesPerSession, 24},
		{"types", d.Limits.Types, []string{"pdf", "png", "jpg", "jpeg", "tif", "tiff"}},
		{"state_dir", d.StateDir, defaultStateDir()},
		{"retention", d.Retention, 720 * time.Hour},
		{"workers", d.Workers, 4},
		{"retry.base", d.Retry.Base, time.Second},
		{"retry.max", d.Retry.Max, 2 * time.Minute},
		{"retry.credentials_max", d.Retry.CredentialsMax, 5 * time.Minute},
		{"log.level", d.Log.Level, "info"},
		{"log.file", d.Log.File, ""},
		{"log.max_size_mb", d.Log.MaxSizeMB, 100},
		{"log.max_backups", d.Log.MaxBackups, 10},
		{"log.max_age_days", d.Log.MaxAgeDays, 30},
		{"log.console", d.Log.Console, "auto"},
		{"inbox.after_success", DefaultInbox().AfterSuccess, "move"},
		{"inbox.stable_for", DefaultInbox().StableFor, 5 * time.Second},
		{"inbox.settle", DefaultInbox().Settle, 30 * time.Second},
		{"inbox.rescan_interval", DefaultInbox().RescanInterval, 60 * time.Second},
		{"inboxes", len(d.Inboxes), 0},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("Default() %s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestLimitsBytes(t *testing.T) {
	l := Limits{MaxFileMB: 18, MaxSessionMB: 180}
	if got, want := l.MaxFileBytes(), int64(18*1024*1024); got != want {
		t.Errorf("MaxFileBytes() = %d, want %d", got, want)
	}
	if got, want := l.MaxSessionBytes(), int64(180*1024*1024); got != want {
		t.Errorf("MaxSessionBytes() = %d, want %d", got, want)
	}
}

func TestParseValid(t *testing.T) {
	c, err := parseString(t, baseYAML)
	if err != nil {
		t.Fatalf("Parse(base) error:\n%v", err)
	}
	if got, want := c.Flinks.ClientSecret.Reveal(), "client-secret-value"; got != want {
		t.Errorf("client_secret = %q, want %q", got, want)
	}
	if got, want := c.Flinks.Fraud.APIKey.Reveal(), "api-key-value"; got != want {
		t.Errorf("api_key = %q, want %q", got, want)
	}
	if got, want := c.Limits.Types, []string{"pdf", "png"}; !reflect.DeepEqual(got, want) {
		t.Errorf("types = %v, want %v", got, want)
	}
	if got, want := len(c.Inboxes), 1; got != want {
		t.Fatalf("len(Inboxes) = %d, want %d", got, want)
	}
	if got, want := c.Inboxes[0].Archive, filepath.FromSlash("/srv/scans/archive"); !strings.HasSuffix(got, want) || !filepath.IsAbs(got) {
		t.Errorf("archive = %q, want an absolute path ending in %q", got, want)
	}
	if c.Path != "" {
		t.Errorf("Path = %q, want \"\" from Parse", c.Path)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate() after Parse = %v", err)
	}
}

func TestParseDefaultsFillGaps(t *testing.T) {
	yaml := `flinks:
  client_id: c
  client_secret: s
  tls: {pfx_file: /etc/fd/c.pfx, pfx_password: pw}
inboxes:
  - {path: /in, outbox: /out, failed: /failed, after_success: DELETE}
`
	c, err := parseString(t, yaml)
	if err != nil {
		t.Fatalf("Parse error:\n%v", err)
	}
	want := Default()
	want.Flinks.ClientID = "c"
	want.Flinks.ClientSecret = c.Flinks.ClientSecret
	want.Flinks.TLS = c.Flinks.TLS
	in := DefaultInbox()
	in.Path, in.Outbox, in.Failed, in.AfterSuccess = abs(t, "/in"), abs(t, "/out"), abs(t, "/failed"), AfterSuccessDelete
	want.Inboxes = []Inbox{in}
	if !reflect.DeepEqual(*c, want) {
		t.Errorf("Parse = %+v\nwant    %+v", *c, want)
	}
	if got := c.Flinks.TLS.PFXPassword.Reveal(); got != "pw" {
		t.Errorf("pfx_password = %q, want %q", got, "pw")
	}
}

func abs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(filepath.FromSlash(p))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name     string
		old, new string // replace the base line old by new; the error is on that line
		key      string
		want     string // part of the message
	}{
		{"unknown key suggests", "client_secret: ${SECRET}", "client_secrt: x", "flinks.client_secrt", "unknown key (did you mean client_secret?)"},
		{"unknown key far from all", "workers: 4", "frobnicate: 4", "frobnicate", "unknown key (valid keys here:"},
		{"key in the wrong section", "workers: 4", "settle: 4s", "settle", "unknown key (settle belongs under inboxes[]: move it there)"},
		{"section in the wrong place", "workers: 4", "tls: {}", "tls", "unknown key (tls belongs under flinks: move it there)"},
		{"unknown inbox key", "settle: 30s", "setle: 30s", "inboxes[0].setle", "did you mean settle?"},
		{"duration without unit", "stable_for: 5s", `stable_for: "5"`, "inboxes[0].stable_for", `"5" is not a duration (write it like 5s or 1m30s)`},
		{"negative settle", "settle: 30s", "settle: -1s", "inboxes[0].settle", "negative"},
		{"negative stable_for", "stable_for: 5s", "stable_for: -5s", "inboxes[0].stable_for", "negative"},
		{"rescan too short", "rescan_interval: 60s", "rescan_interval: 10ms", "inboxes[0].rescan_interval", "at least 1s"},
		{"workers zero", "workers: 4", "workers: 0", "workers", "at least 1"},
		{"retry base too short", "workers: 4", "retry: {base: 1ms}", "retry.base", "at least 10ms"},
		{"retry max below base", "workers: 4", "retry: {base: 10s, max: 5s}", "retry.max", "shorter than retry.base"},
		{"retry credentials_max below base", "workers: 4", "retry: {base: 10s, credentials_max: 5s}", "retry.credentials_max", "shorter than retry.base"},
		{"retry unknown key", "workers: 4", "retry: {bse: 1s}", "retry.bse", "did you mean base?"},
		{"workers not a number", "workers: 4", "workers: four", "workers", `"four" is not a whole number`},
		{"poll interval too short", "poll_interval: 30s", "poll_interval: 500ms", "flinks.fraud.poll_interval", "at least 1s"},
		{"timeout negative", "timeout: 6h", "timeout: -1h", "flinks.fraud.timeout", "must be positive"},
		{"retention zero", "retention: 720h", "retention: 0s", "retention", "must be positive"},
		{"after_success", "after_success: move", "after_success: keep", "inboxes[0].after_success", `"keep" is not an action (use move or delete)`},
		{"http upload url", "upload_url: https://upload.example.test/api/v1", "upload_url: http://upload.example.test/api/v1", "flinks.upload_url", "not an https URL"},
		{"unparsable upload url", "upload_url: https://upload.example.test/api/v1", `upload_url: "https://bad host/%zz"`, "flinks.upload_url", "cannot be parsed as a URL"},
		{"url with password", "upload_url: https://upload.example.test/api/v1", "upload_url: https://u:hunter2@upload.example.test", "flinks.upload_url", "must not hold a user name or password"},
		{"fraud url http", "url: https://toolbox-api.example.test", "url: http://x.example.test", "flinks.fraud.url", "not an https URL"},
		{"fraud url placeholder", "url: https://toolbox-api.example.test", "url: https://INSTANCE-api.private.fin.ag", "flinks.fraud.url", "INSTANCE placeholder"},
		{"fraud without customer", "customer_id: cust-1", `customer_id: ""`, "flinks.fraud.customer_id", "required"},
		{"fraud without api key", "api_key: ${API_KEY}", "api_key: ~", "flinks.fraud.api_key", "required with fraud.url"},
		{"unknown type", "types: [pdf, png]", "types: [pdf, docx]", "limits.types[1]", `"docx" is not a type Flinks accepts`},
		{"no types", "types: [pdf, png]", "types: []", "limits.types", "at least one type"},
		{"types not a list", "types: [pdf, png]", "types: pdf", "limits.types", "expected a list"},
		{"file bigger than session", "max_file_mb: 18", "max_file_mb: 500", "limits.max_file_mb", "more than max_session_mb"},
		{"files per session", "max_files_per_session: 24", "max_files_per_session: 0", "limits.max_files_per_session", "at least 1"},
		{"log level", "level: info", "level: verbose", "log.level", `"verbose" is not a level`},
		{"log console", "level: info", "console: colour", "log.console", `"colour" is not a console format`},
		{"log max size", "level: info", "max_size_mb: 0", "log.max_size_mb", "at least 1"},
		{"outbox inside inbox", "outbox: /srv/scans/reports", "outbox: /srv/scans/inbox/reports", "inboxes[0].outbox", "would be uploaded"},
		{"archive inside inbox", "archive: /srv/scans/archive", "archive: /srv/scans/inbox", "inboxes[0].archive", "would be uploaded"},
		{"failed inside inbox", "failed: /srv/scans/failed", "failed: /srv/scans/inbox/failed", "inboxes[0].failed", "would be uploaded"},
		{"state_dir inside inbox", "state_dir: /var/lib/fd", "state_dir: /srv/scans/inbox/.state", "state_dir", "would be uploaded"},
		{"log file inside inbox", "file: \"\"", "file: /srv/scans/inbox/flinkdrop.log", "log.file", "would be uploaded"},
		{"missing outbox", "outbox: /srv/scans/reports", "tag: t", "inboxes[0].outbox", "required"},
		{"missing archive with move", "archive: /srv/scans/archive", "tag: t", "inboxes[0].archive", "required"},
		{"missing client id", "client_id: client-1", "", "flinks.client_id", "required"},
		{"missing inbox path", "- path: /srv/scans/inbox", "- tag: t", "inboxes[0].path", "required"},
		{"bad ignore glob", "settle: 30s", "ignore: [\"[\"]", "inboxes[0].ignore[0]", "not a valid glob"},
		{"ready marker path", "settle: 30s", "ready_marker: a/READY", "inboxes[0].ready_marker", "plain file name"},
		{"mapping for a value", "workers: 4", "workers: {n: 4}", "workers", "expected a single value"},
		{"scalar for a section", "level: info", "level: [info]", "log.level", "expected a single value"},
		{"duplicate key", "workers: 4", "workers: 4\nworkers: 5", "workers", "set twice"},
		{"unset env var", "client_id: client-1", "client_id: ${NOPE}", "flinks.client_id", "environment variable NOPE is not set"},
		{"unterminated env", "client_id: client-1", "client_id: ${NOPE", "flinks.client_id", "unterminated ${"},
		{"both secret and file", "client_secret: ${SECRET}", "client_secret: ${SECRET}\nclient_secret_file: /x", "flinks.client_secret_file", "both client_secret and client_secret_file are set"},
		{"secret file missing", "client_secret: ${SECRET}", "client_secret_file: /run/nope", "flinks.client_secret_file", "cannot read"},
		{"pfx and pem", "ca_file: \"\"", "pfx_file: /etc/fd/c.pfx", "flinks.tls.pfx_file", "not both"},
		{"cert without key", "key_file: /etc/fd/client.key", "key_file: ~", "flinks.tls.key_file", "required with cert_file"},
		{"no certificate", "cert_file: /etc/fd/client.crt", "", "flinks.tls", "a client certificate is required"},
		{"alias", "workers: 4", "workers: *w", "workers", "aliases"},
		{"merge key", "level: info", "<<: {level: info}", "log.<<", "merge keys"},
	}
	// Cases whose error is not on the replaced line, or that need a second
	// replacement.
	special := map[string]struct {
		atLine int
		also   [2]string // old → new
	}{
		"missing outbox":            {atLine: 25},
		"missing archive with move": {atLine: 25},
		"missing client id":         {atLine: 1},
		"no certificate":            {atLine: 6, also: [2]string{"key_file: /etc/fd/client.key", ""}},
		"alias":                     {also: [2]string{"retention: 720h", "retention: &w 720h"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := special[tt.name]
			yaml, line := replaceLine(t, baseYAML, tt.old, tt.new)
			if sp.also[0] != "" {
				yaml = strings.Replace(yaml, sp.also[0], sp.also[1], 1)
			}
			if sp.atLine != 0 {
				line = sp.atLine
			}
			_, err := parseString(t, yaml)
			if err == nil {
				t.Fatalf("Parse succeeded, want an error about %s", tt.key)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("errors.Is(err, ErrInvalid) = false for %v", err)
			}
			for _, l := range strings.Split(tt.new, "\n")[1:] {
				if strings.Contains(l, tt.key[strings.LastIndexAny(tt.key, ".]")+1:]) && sp.atLine == 0 {
					line++ // the key is on a later line of the replacement
					break
				}
			}
			prefix := fmt.Sprintf("config.yaml:%d: %s: ", line, tt.key)
			for _, l := range strings.Split(err.Error(), "\n") {
				if strings.HasPrefix(l, prefix) && strings.Contains(l, tt.want) {
					return
				}
			}
			t.Errorf("Parse error =\n%v\nwant a line starting %q containing %q", err, prefix, tt.want)
		})
	}
}

func TestParseErrorsAllReported(t *testing.T) {
	yaml := baseYAML
	yaml, l1 := replaceLine(t, yaml, "workers: 4", "workers: 0")
	yaml, l2 := replaceLine(t, yaml, "stable_for: 5s", "stable_for: 5")
	yaml, l3 := replaceLine(t, yaml, "client_secret: ${SECRET}", "client_secrt: x")
	yaml, l4 := replaceLine(t, yaml, "level: info", "level: loud")
	_, err := parseString(t, yaml)
	fes := fieldErrors(t, err)
	var got []string
	for _, fe := range fes {
		got = append(got, fmt.Sprintf("%d %s", fe.Line, fe.Key))
	}
	// client_secret is then missing too; it is reported at the flinks line.
	want := []string{"1 flinks.client_secret", fmt.Sprint(l3, " flinks.client_secrt"), fmt.Sprint(l1, " workers"), fmt.Sprint(l2, " inboxes[0].stable_for"), fmt.Sprint(l4, " log.level")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors (line key) = %q, want %q\n%v", got, want, err)
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != len(want) {
		t.Errorf("error has %d lines, want one per problem (%d):\n%v", n, len(want), err)
	}
}

func TestParseBrokenYAML(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       string
	}{
		{"syntax", "flinks:\n  client_id: a\n bad: [\n", "config.yaml:"},
		{"tabs", "flinks:\n\tclient_id: a\n", "not valid YAML"},
		{"two documents", baseYAML + "---\nworkers: 3\n", "more than one YAML document"},
		{"top-level list", "- a\n- b\n", "must be a mapping"},
	}
	for _, tt := range tests {
		_, err := parseString(t, tt.yaml)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Parse error = %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
}

func TestParseEmptyNeedsInbox(t *testing.T) {
	for _, in := range []string{"", "# nothing\n", "~\n"} {
		_, err := parseString(t, in)
		if err == nil || !strings.Contains(err.Error(), "inboxes: at least one inbox is required") {
			t.Errorf("Parse(%q) error = %v, want one naming inboxes", in, err)
		}
	}
}

func TestExpandEnv(t *testing.T) {
	env := testEnv(map[string]string{"A": "alpha", "Q": `"quoted: # not a comment'`, "EMPTY": "", "NESTED": "${A}"})
	tests := []struct {
		in, want, wantErr string
	}{
		{"plain", "plain", ""},
		{"${A}", "alpha", ""},
		{"x-${A}-${A}-y", "x-alpha-alpha-y", ""},
		{"${Q}", `"quoted: # not a comment'`, ""},
		{"${EMPTY}", "", ""},
		{"${NESTED}", "${A}", ""}, // values are not expanded again
		{"$${A}", "${A}", ""},
		{"$A and $", "$A and $", ""},
		{"cost $5", "cost $5", ""},
		{"${UNSET}", "", "environment variable UNSET is not set"},
		{"${A", "", "unterminated ${"},
		{"${}", "", "variable name"},
		{"${1A}", "", "variable name"},
		{"${A-B}", "", "variable name"},
	}
	for _, tt := range tests {
		got, err := expandEnv(tt.in, env)
		switch {
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("expandEnv(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
		case tt.wantErr == "" && (err != nil || got != tt.want):
			t.Errorf("expandEnv(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestSecretWithYAMLCharacters(t *testing.T) {
	weird := "p@ss: #word\n- [x] {y} 'z' \"w\" ${NOT}"
	c, err := Parse([]byte(baseYAML), ParseOptions{Name: "config.yaml", LookupEnv: testEnv(map[string]string{"SECRET": weird}), ReadFile: noFiles})
	if err != nil {
		t.Fatalf("Parse error: %v", err)
	}
	if got := c.Flinks.ClientSecret.Reveal(); got != weird {
		t.Errorf("client_secret = %q, want %q", got, weird)
	}
}

func TestSecretFiles(t *testing.T) {
	files := map[string]string{
		filepath.FromSlash("/run/secrets/client"): "from-file\r\n",
		filepath.FromSlash("/etc/fd/api_key"):     "key-from-file\n\n",
		filepath.FromSlash("/etc/fd/pfx_pw"):      "pfx pw",
		filepath.FromSlash("/etc/fd/empty"):       "\n",
	}
	read := func(name string) ([]byte, error) {
		for p, v := range files {
			if abs(t, p) == name {
				return []byte(v), nil
			}
		}
		return noFiles(name)
	}
	yaml := baseYAML
	yaml, _ = replaceLine(t, yaml, "client_secret: ${SECRET}", "client_secret_file: ${SECRETS}/client")
	yaml, _ = replaceLine(t, yaml, "api_key: ${API_KEY}", "api_key_file: api_key") // relative to BaseDir
	yaml, _ = replaceLine(t, yaml, "cert_file: /etc/fd/client.crt", "pfx_file: /etc/fd/c.pfx\npfx_password_file: /etc/fd/pfx_pw")
	yaml, _ = replaceLine(t, yaml, "key_file: /etc/fd/client.key", "")
	c, err := Parse([]byte(yaml), ParseOptions{Name: "config.yaml", BaseDir: abs(t, "/etc/fd"), LookupEnv: testEnv(map[string]string{"SECRETS": "/run/secrets"}), ReadFile: read})
	if err != nil {
		t.Fatalf("Parse error:\n%v", err)
	}
	for _, tt := range []struct{ name, got, want string }{
		{"client_secret", c.Flinks.ClientSecret.Reveal(), "from-file"},
		{"api_key", c.Flinks.Fraud.APIKey.Reveal(), "key-from-file"},
		{"pfx_password", c.Flinks.TLS.PFXPassword.Reveal(), "pfx pw"},
	} {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}

	yaml, line := replaceLine(t, baseYAML, "api_key: ${API_KEY}", "api_key_file: /etc/fd/empty")
	_, err = Parse([]byte(yaml), ParseOptions{Name: "config.yaml", ReadFile: read, LookupEnv: testEnv(nil)})
	want := fmt.Sprintf("config.yaml:%d: flinks.fraud.api_key_file: file %s is empty", line, abs(t, "/etc/fd/empty"))
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("empty secret file: error = %v, want %q", err, want)
	}
	if err != nil && strings.Contains(err.Error(), "flinks.fraud.api_key: required") {
		t.Errorf("empty secret file reported twice:\n%v", err)
	}
}

func TestRelativePaths(t *testing.T) {
	yaml := baseYAML
	yaml, _ = replaceLine(t, yaml, "- path: /srv/scans/inbox", "- path: scans/in")
	yaml, _ = replaceLine(t, yaml, "outbox: /srv/scans/reports", "outbox: ./scans/../reports/")
	yaml, _ = replaceLine(t, yaml, "cert_file: /etc/fd/client.crt", "cert_file: certs/client.crt")
	yaml, _ = replaceLine(t, yaml, "state_dir: /var/lib/fd", "state_dir: state")
	base := abs(t, "/opt/fd")
	c, err := Parse([]byte(yaml), ParseOptions{BaseDir: base, LookupEnv: testEnv(nil)})
	if err != nil {
		t.Fatalf("Parse error:\n%v", err)
	}
	for _, tt := range []struct{ name, got, want string }{
		{"path", c.Inboxes[0].Path, filepath.Join(base, "scans", "in")},
		{"outbox", c.Inboxes[0].Outbox, filepath.Join(base, "reports")},
		{"cert_file", c.Flinks.TLS.CertFile, filepath.Join(base, "certs", "client.crt")},
		{"state_dir", c.StateDir, filepath.Join(base, "state")},
		{"ca_file empty stays empty", c.Flinks.TLS.CAFile, ""},
	} {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestValidateBuiltInCode(t *testing.T) {
	c := Default()
	c.Flinks.ClientID = "id"
	c.Flinks.ClientSecret = secret.New("s")
	c.Flinks.TLS.CertFile, c.Flinks.TLS.KeyFile = abs(t, "/c.crt"), abs(t, "/c.key")
	in := DefaultInbox()
	in.Path, in.Outbox, in.Archive, in.Failed = abs(t, "/in"), abs(t, "/out"), abs(t, "/arch"), abs(t, "/failed")
	c.Inboxes = []Inbox{in}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate() = %v, want nil", err)
	}

	c.Inboxes = append(c.Inboxes, in)
	c.Inboxes[1].Path = filepath.Join(in.Path, "sub")
	c.Inboxes = append(c.Inboxes, in)
	c.Workers = 0
	got := c.Validate()
	wantLines := []string{
		"workers: 0 is too small",
		"inboxes[1].path: " + c.Inboxes[1].Path + " is inside inboxes[0].path",
		"inboxes[2].path: " + in.Path + " is the same folder as inboxes[0].path",
	}
	for _, w := range wantLines {
		if got == nil || !strings.Contains(got.Error(), w) {
			t.Errorf("Validate() = %v\nwant a line containing %q", got, w)
		}
	}
	if got != nil && strings.Contains(got.Error(), "config") && strings.Contains(got.Error(), ".yaml:") {
		t.Errorf("Validate() names a file for a Config built in code: %v", got)
	}

	c = Default()
	c.Inboxes = []Inbox{{Path: "relative", AfterSuccess: "move"}}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), `inboxes[0].path: "relative" is not an absolute path`) {
		t.Errorf("Validate() with a relative path = %v, want it named", err)
	}
}

func TestKnownKeys(t *testing.T) {
	keys := KnownKeys()
	for _, want := range []string{"flinks.client_secret_file", "flinks.tls.pfx_password_file", "flinks.fraud.api_key_file", "inboxes[].stable_for", "limits.types", "log.console", "workers", "retry.base", "retry.max", "retry.credentials_max"} {
		found := false
		for _, k := range keys {
			found = found || k == want
		}
		if !found {
			t.Errorf("KnownKeys() lacks %q: %v", want, keys)
		}
	}
	if got, want := len(keys), 45; got != want {
		t.Errorf("len(KnownKeys()) = %d, want %d (update the test and config.example.yaml when adding keys)", got, want)
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"path", "outbox", "archive", "stable_for", "settle"}
	tests := []struct{ in, want string }{
		{"stable-for", " (did you mean stable_for?)"},
		{"Outbox", " (did you mean outbox?)"},
		{"achive", " (did you mean archive?)"},
		{"colour", " (valid keys here: archive, outbox, path, settle, stable_for)"},
	}
	for _, tt := range tests {
		if got := suggest(tt.in, known); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

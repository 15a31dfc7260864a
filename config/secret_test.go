package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

func TestSecretsNeverPrinted(t *testing.T) {
	secrets := map[string]string{
		"SECRET":  "Cl1ent-S3cret-Zx81",
		"API_KEY": "Ap1-K3y-Qw77",
		"PFX":     "Pfx-Pa55-Lm42",
	}
	yaml := baseYAML
	yaml, _ = replaceLine(t, yaml, "cert_file: /etc/fd/client.crt", "pfx_file: /etc/fd/c.pfx\npfx_password: ${PFX}")
	yaml, _ = replaceLine(t, yaml, "key_file: /etc/fd/client.key", "")
	c, err := Parse([]byte(yaml), ParseOptions{Name: "config.yaml", LookupEnv: testEnv(secrets), ReadFile: noFiles})
	if err != nil {
		t.Fatalf("Parse error:\n%v", err)
	}
	if got := c.Flinks.TLS.PFXPassword.Reveal(); got != secrets["PFX"] {
		t.Fatalf("pfx_password = %q, want %q", got, secrets["PFX"])
	}
	var outputs []string
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		outputs = append(outputs, fmt.Sprintf(f, c), fmt.Sprintf(f, *c), fmt.Sprintf(f, c.Flinks))
	}
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, string(j))
	var buf bytes.Buffer
	log := zerolog.New(&buf)
	log.Info().Interface("config", c).Msg("loaded")
	outputs = append(outputs, buf.String())

	// And the error messages of a broken file with the same secrets.
	bad := strings.Replace(yaml, "workers: 4", "workers: x\nclient_secret: ${SECRET}", 1)
	_, err = Parse([]byte(bad), ParseOptions{Name: "config.yaml", LookupEnv: testEnv(secrets), ReadFile: noFiles})
	if err == nil {
		t.Fatal("Parse of a broken file succeeded")
	}
	outputs = append(outputs, err.Error())

	for _, out := range outputs {
		for name, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("secret %s leaked in %q", name, out)
			}
		}
	}
	if !strings.Contains(outputs[0], "[redacted]") {
		t.Errorf("%%v of Config = %q, want it to show [redacted]", outputs[0])
	}
}

func TestSecretFileErrorsNeverPrintContents(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "secret")
	if err := os.WriteFile(p, []byte("Fil3-S3cret-Hh19\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml, _ := replaceLine(t, baseYAML, "client_secret: ${SECRET}", "client_secret_file: "+p)
	yaml = strings.Replace(yaml, "workers: 4", "workers: -1", 1)
	_, err := Parse([]byte(yaml), ParseOptions{Name: "config.yaml", LookupEnv: testEnv(nil)})
	if err == nil || strings.Contains(err.Error(), "Fil3-S3cret-Hh19") {
		t.Errorf("Parse error = %v, want an error without the secret", err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	secretPath := filepath.Join(dir, "secrets", "client")
	if err := os.MkdirAll(filepath.Dir(secretPath), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secretPath, []byte("loaded-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml, _ := replaceLine(t, baseYAML, "client_secret: ${SECRET}", "client_secret_file: secrets/client")
	yaml, _ = replaceLine(t, yaml, "api_key: ${API_KEY}", "api_key: literal-key")
	yaml, _ = replaceLine(t, yaml, "- path: /srv/scans/inbox", "- path: inbox")
	path := filepath.Join(dir, "flinkdrop.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%s):\n%v", path, err)
	}
	for _, tt := range []struct{ name, got, want string }{
		{"Path", c.Path, path},
		{"client_secret", c.Flinks.ClientSecret.Reveal(), "loaded-secret"},
		{"inbox path", c.Inboxes[0].Path, filepath.Join(dir, "inbox")},
	} {
		if tt.got != tt.want {
			t.Errorf("Load %s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}

	missing := filepath.Join(dir, "nope.yaml")
	if _, err := Load(missing); err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "--config") {
		t.Errorf("Load(missing) error = %v, want it to name the file and the fix", err)
	}

	broken := filepath.Join(dir, "broken.yaml")
	if err := os.WriteFile(broken, []byte("workers: 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(broken); err == nil || !strings.Contains(err.Error(), broken+":1: workers:") {
		t.Errorf("Load(broken) error = %v, want it to start lines with the file name", err)
	}
}

func TestSkipSecrets(t *testing.T) {
	noEnv := func(string) (string, bool) { return "", false }
	withFile, _ := replaceLine(t, baseYAML, "client_secret: ${SECRET}", "client_secret_file: /etc/fd/unreadable")
	withPFX, _ := replaceLine(t, withFile, "cert_file: /etc/fd/client.crt", "pfx_file: /etc/fd/c.pfx\npfx_password_file: /etc/fd/pfx")
	withPFX, _ = replaceLine(t, withPFX, "key_file: /etc/fd/client.key", "")
	noSecrets, _ := replaceLine(t, baseYAML, "client_secret: ${SECRET}", "")
	noSecrets, _ = replaceLine(t, noSecrets, "api_key: ${API_KEY}", "")
	both, _ := replaceLine(t, baseYAML, "client_secret: ${SECRET}", "client_secret: x\nclient_secret_file: /etc/fd/s")
	badWorkers := strings.Replace(withFile, "workers: 4", "workers: 0", 1)
	tests := []struct {
		name    string
		yaml    string
		skip    bool
		wantKey string // "" means no error
	}{
		{"env unset, not skipped", baseYAML, false, "flinks.client_secret"},
		{"env unset, skipped", baseYAML, true, ""},
		{"file unreadable, not skipped", withFile, false, "flinks.client_secret_file"},
		{"file unreadable, skipped", withFile, true, ""},
		{"pfx password file, skipped", withPFX, true, ""},
		{"secrets missing, skipped", noSecrets, true, ""},
		{"both set, skipped", both, true, "flinks.client_secret_file"},
		{"other keys still validated", badWorkers, true, "workers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml), ParseOptions{Name: "config.yaml", LookupEnv: noEnv, ReadFile: noFiles, SkipSecrets: tt.skip})
			if tt.wantKey == "" {
				if err != nil {
					t.Fatalf("Parse error:\n%v\nwant none", err)
				}
				if !c.Flinks.ClientSecret.IsZero() || !c.Flinks.Fraud.APIKey.IsZero() {
					t.Errorf("secrets set with SkipSecrets, want them zero")
				}
				return
			}
			var keys []string
			for _, fe := range fieldErrors(t, err) {
				keys = append(keys, fe.Key)
			}
			if !slices.Contains(keys, tt.wantKey) {
				t.Errorf("Parse error keys = %v, want %s among them", keys, tt.wantKey)
			}
		})
	}
}

func TestLoadWithSkipSecrets(t *testing.T) {
	dir := t.TempDir()
	yaml, _ := replaceLine(t, baseYAML, "client_secret: ${SECRET}", "client_secret_file: "+filepath.Join(dir, "missing"))
	yaml, _ = replaceLine(t, yaml, "api_key: ${API_KEY}", "api_key: ${FLINKDROP_TEST_UNSET_KEY}")
	path := filepath.Join(dir, "flinkdrop.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil {
		t.Fatal("Load with an unreadable secret succeeded, want an error")
	}
	c, err := LoadWith(path, LoadOptions{SkipSecrets: true})
	if err != nil {
		t.Fatalf("LoadWith(SkipSecrets):\n%v", err)
	}
	if got, want := c.Path, path; got != want {
		t.Errorf("Path = %q, want %q", got, want)
	}
	if got, want := c.StateDir, "/var/lib/fd"; filepath.Separator == '/' && got != want {
		t.Errorf("StateDir = %q, want %q", got, want)
	}
}

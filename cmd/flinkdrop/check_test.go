package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/flinkdrop/flinkdrop/flinkssim"
)

// checkLine matches the line of a step at a level, e.g. checkLine("FAIL", "token").
func checkLine(level, step string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(level) + `\s+` + regexp.QuoteMeta(step) + `\s+(.*)$`)
}

func TestCheck(t *testing.T) {
	t.Parallel()
	sim := startSim(t, flinkssim.Options{})
	certs := sim.Certs()
	now := time.Now()
	expiredCert, expiredKey := issueClientCert(t, sim, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	soonCert, soonKey := issueClientCert(t, sim, now.Add(-time.Hour), now.Add(10*24*time.Hour+time.Hour))

	tests := []struct {
		name string
		cfg  testConfig
		// setup changes the workspace (and the config) before check runs.
		setup     func(t *testing.T, ws workspace, c *testConfig)
		wantCode  int
		wantLevel string
		wantStep  string
		wantMsg   string
	}{
		{name: "good setup", wantCode: exitOK, wantLevel: "ok", wantStep: "fraud", wantMsg: "accepts the API key"},
		{name: "good setup with a PFX", cfg: testConfig{pfx: true}, wantCode: exitOK, wantLevel: "ok", wantStep: "token", wantMsg: "over mutual TLS"},
		{name: "no fraud url", cfg: testConfig{noFraud: true}, wantCode: exitOK, wantLevel: "ok", wantStep: "fraud", wantMsg: "no fraud.url configured"},
		{name: "wrong client secret", cfg: testConfig{clientSecret: "not-the-secret"},
			wantCode: exitFailure, wantLevel: "FAIL", wantStep: "token", wantMsg: "client_id and flinks.client_secret"},
		{name: "wrong scope", cfg: testConfig{scope: "ocr.read"},
			wantCode: exitFailure, wantLevel: "FAIL", wantStep: "token", wantMsg: "HTTP 400"},
		{name: "client certificate from another CA", cfg: testConfig{certFile: certs.OtherCAClientCertFile, keyFile: certs.OtherCAClientKeyFile},
			wantCode: exitFailure, wantLevel: "FAIL", wantStep: "token", wantMsg: "the client certificate was not sent or not trusted"},
		{name: "key does not match the certificate", cfg: testConfig{keyFile: certs.OtherCAClientKeyFile},
			wantCode: exitFailure, wantLevel: "FAIL", wantStep: "certificate", wantMsg: "does not match the certificate"},
		{name: "expired certificate", cfg: testConfig{certFile: expiredCert, keyFile: expiredKey},
			wantCode: exitFailure, wantLevel: "FAIL", wantStep: "certificate", wantMsg: "expired"},
		{name: "certificate expiring in 10 days", cfg: testConfig{certFile: soonCert, keyFile: soonKey},
			wantCode: exitOK, wantLevel: "warn", wantStep: "certificate", wantMsg: "expires in 10 days"},
		{name: "wrong fraud API key", cfg: testConfig{apiKey: "not-the-api-key"},
			wantCode: exitFailure, wantLevel: "FAIL", wantStep: "fraud", wantMsg: "flinks.fraud.api_key"},
		{name: "server not trusted without ca_file", cfg: testConfig{noCA: true},
			wantCode: exitFailure, wantLevel: "FAIL", wantStep: "token", wantMsg: "set flinks.tls.ca_file"},
		{name: "outbox is a regular file",
			setup: func(t *testing.T, ws workspace, c *testConfig) {
				c.outbox = filepath.Join(ws.root, "outbox-file")
				if err := os.WriteFile(c.outbox, []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			wantCode: exitFailure, wantLevel: "FAIL", wantStep: "folders", wantMsg: "is not a folder"},
		{name: "state_dir under a regular file",
			setup: func(t *testing.T, ws workspace, c *testConfig) {
				file := filepath.Join(ws.root, "not-a-folder")
				if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
				c.state = filepath.Join(file, "state")
			},
			wantCode: exitFailure, wantLevel: "FAIL", wantStep: "folders", wantMsg: "cannot be created"},
		{name: "state_dir not made yet",
			setup: func(t *testing.T, ws workspace, c *testConfig) {
				c.state = filepath.Join(ws.root, "new", "state")
			},
			wantCode: exitOK, wantLevel: "warn", wantStep: "folders", wantMsg: "will be created at start"},
		{name: "missing inbox",
			setup: func(t *testing.T, ws workspace, c *testConfig) {
				c.inbox = filepath.Join(ws.root, "no-such-inbox")
			},
			wantCode: exitFailure, wantLevel: "FAIL", wantStep: "folders", wantMsg: "does not exist (create it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ws := newWorkspace(t)
			c := tt.cfg
			if tt.setup != nil {
				tt.setup(t, ws, &c)
			}
			cfg := writeConfig(t, sim, ws, c)
			res := runCLI(context.Background(), "check", "--config", cfg)
			if res.code != tt.wantCode {
				t.Errorf("check exit = %d, want %d\n%v", res.code, tt.wantCode, res)
			}
			m := checkLine(tt.wantLevel, tt.wantStep).FindStringSubmatch(res.stdout)
			if m == nil || !strings.Contains(m[1], tt.wantMsg) {
				t.Errorf("check printed no %q line for %s holding %q\n%v", tt.wantLevel, tt.wantStep, tt.wantMsg, res)
			}
			if tt.wantCode == exitOK {
				if strings.Contains(res.stdout, "FAIL") {
					t.Errorf("check passed but printed a FAIL line\n%v", res)
				}
				for _, step := range []string{"config", "folders", "certificate", "token", "fraud"} {
					if step == tt.wantStep && tt.wantLevel == "warn" {
						continue
					}
					if checkLine("ok", step).FindString(res.stdout) == "" {
						t.Errorf("check passed without an ok line for %s\n%v", step, res)
					}
				}
			} else if !strings.Contains(res.stderr, "check failed") {
				t.Errorf("check failed without saying so on stderr\n%v", res)
			}
		})
	}
}

func TestCheckInvalidConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("flinks:\n  no_such_key: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{missing, bad} {
		res := runCLI(context.Background(), "check", "--config", path)
		if res.code != exitFailure || checkLine("FAIL", "config").FindString(res.stdout) == "" {
			t.Errorf("check --config %s: want exit 1 and a FAIL config line\n%v", filepath.Base(path), res)
		}
	}
}

package report

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// mutate encodes a full report, applies change to its generic form and
// returns the JSON.
func mutate(t *testing.T, change func(m map[string]any)) []byte {
	t.Helper()
	data, err := Encode(fullReport("s-1"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	change(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func file0(m map[string]any) map[string]any {
	return m["files"].([]any)[0].(map[string]any)
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(m map[string]any)
		valid  bool
		where  string // part of the error text
	}{
		{"full report", func(map[string]any) {}, true, ""},
		{"uploaded, no fraud, no error", func(m map[string]any) {
			m["outcome"] = "uploaded"
			m["fraud"] = nil
		}, true, ""},
		{"rejected file without a hash", func(m map[string]any) {
			f := m["files"].([]any)[1].(map[string]any)
			f["sha256"] = ""
		}, true, ""},
		{"only first_seen", func(m map[string]any) {
			m["times"] = map[string]any{"first_seen": "2026-01-02T03:04:05.123+01:00"}
		}, true, ""},
		{"failed with error", func(m map[string]any) {
			m["outcome"] = "failed"
			m["fraud"] = nil
			m["error"] = map[string]any{"stage": "complete", "http_status": 409, "message": "already completed"}
		}, true, ""},
		{"root file folder", func(m map[string]any) { m["folder"] = "" }, true, ""},

		{"missing outcome", func(m map[string]any) { delete(m, "outcome") }, false, "outcome"},
		{"bad outcome", func(m map[string]any) { m["outcome"] = "done" }, false, "/outcome"},
		{"missing tag", func(m map[string]any) { delete(m, "tag") }, false, "tag"},
		{"schema version 2", func(m map[string]any) { m["schema_version"] = 2 }, false, "/schema_version"},
		{"unknown field", func(m map[string]any) { m["extra"] = true }, false, "extra"},
		{"empty session", func(m map[string]any) { m["session_id"] = "" }, false, "/session_id"},
		{"short sha256", func(m map[string]any) { file0(m)["sha256"] = "abc" }, false, "/files/0/sha256"},
		{"upper-case sha256", func(m map[string]any) { file0(m)["sha256"] = strings.Repeat("AB", 32) }, false, "/files/0/sha256"},
		{"uploaded file without hash", func(m map[string]any) { file0(m)["sha256"] = "" }, false, "/files/0/sha256"},
		{"bad file status", func(m map[string]any) { file0(m)["status"] = "sent" }, false, "/files/0/status"},
		{"rejected file without reason", func(m map[string]any) {
			m["files"].([]any)[1].(map[string]any)["reason"] = ""
		}, false, "/files/1/reason"},
		{"negative size", func(m map[string]any) { file0(m)["size"] = -1 }, false, "/files/0/size"},
		{"files null", func(m map[string]any) { m["files"] = nil }, false, "/files"},
		{"bad time", func(m map[string]any) {
			m["times"].(map[string]any)["uploaded"] = "2026-13-01 10:00"
		}, false, "/times/uploaded"},
		{"no first_seen", func(m map[string]any) { m["times"] = map[string]any{} }, false, "first_seen"},
		{"fraud not object", func(m map[string]any) { m["fraud"] = "none" }, false, "/fraud"},
		{"negative signal count", func(m map[string]any) {
			m["fraud"].(map[string]any)["signal_count"] = -1
		}, false, "/fraud/signal_count"},
		{"fraud_signals without fraud", func(m map[string]any) { m["fraud"] = nil }, false, "/fraud"},
		{"clean with signals", func(m map[string]any) { m["outcome"] = "clean" }, false, "/fraud/signal_count"},
		{"failed without error", func(m map[string]any) { m["outcome"] = "failed" }, false, "/error"},
		{"http status as string", func(m map[string]any) {
			m["error"] = map[string]any{"stage": "upload", "http_status": "400", "message": "x"}
		}, false, "/error/http_status"},
		{"document not object", func(m map[string]any) {
			m["fraud"].(map[string]any)["documents"] = []any{1}
		}, false, "/fraud/documents/0"},
	}
	v, err := NewValidator()
	if err != nil {
		t.Fatalf("NewValidator: %v", err)
	}
	for _, tt := range tests {
		doc := mutate(t, tt.change)
		err := v.Validate(doc)
		if tt.valid {
			if err != nil {
				t.Errorf("%s: Validate = %v, want nil", tt.name, err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Validate = %v, want ErrInvalid", tt.name, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.where) {
			t.Errorf("%s: Validate error %q does not mention %q", tt.name, err, tt.where)
		}
	}
}

func TestValidateNotJSON(t *testing.T) {
	for _, doc := range []string{"", "{", "[]", "null", `{"schema_version":1}`} {
		if err := Validate([]byte(doc)); !errors.Is(err, ErrInvalid) {
			t.Errorf("Validate(%q) = %v, want ErrInvalid", doc, err)
		}
	}
}

func TestSchemaIsDraft202012(t *testing.T) {
	var m map[string]any
	if err := json.Unmarshal(Schema(), &m); err != nil {
		t.Fatalf("Schema() is not JSON: %v", err)
	}
	if got, want := m["$schema"], "https://json-schema.org/draft/2020-12/schema"; got != want {
		t.Errorf("$schema = %v, want %v", got, want)
	}
}

package config

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const examplePath = "../config.example.yaml"

// exampleEnv is what config.example.yaml needs from the environment.
func exampleEnv(name string) (string, bool) {
	switch name {
	case "FLINKS_CLIENT_SECRET", "FLINKS_API_KEY", "FLINKS_PFX_PASSWORD":
		return "example-" + name, true
	}
	return "", false
}

func TestExampleParses(t *testing.T) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(data, ParseOptions{Name: "config.example.yaml", LookupEnv: exampleEnv, ReadFile: noFiles})
	if err != nil {
		t.Fatalf("Parse(config.example.yaml):\n%v", err)
	}
	// The example shows the defaults; check that it says what Default says.
	d, in := Default(), DefaultInbox()
	if len(c.Inboxes) != 1 {
		t.Fatalf("example has %d inboxes, want 1", len(c.Inboxes))
	}
	got := c.Inboxes[0]
	tests := []struct {
		name      string
		got, want any
	}{
		{"upload_url", c.Flinks.UploadURL, d.Flinks.UploadURL},
		{"scope", c.Flinks.Scope, d.Flinks.Scope},
		{"fraud.url", c.Flinks.Fraud.URL, d.Flinks.Fraud.URL},
		{"poll_interval", c.Flinks.Fraud.PollInterval, d.Flinks.Fraud.PollInterval},
		{"timeout", c.Flinks.Fraud.Timeout, d.Flinks.Fraud.Timeout},
		{"limits", c.Limits, d.Limits},
		{"retention", c.Retention, d.Retention},
		{"workers", c.Workers, d.Workers},
		{"after_success", got.AfterSuccess, in.AfterSuccess},
		{"stable_for", got.StableFor, in.StableFor},
		{"settle", got.Settle, in.Settle},
		{"rescan_interval", got.RescanInterval, in.RescanInterval},
		{"ready_marker", got.ReadyMarker, in.ReadyMarker},
		{"log", c.Log, d.Log},
	}
	if filepath.Separator == '/' {
		tests = append(tests, struct {
			name      string
			got, want any
		}{"state_dir", c.StateDir, d.StateDir})
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("example %s = %v, want the default %v", tt.name, tt.got, tt.want)
		}
	}
}

// TestExampleDocumentsEveryKey walks the decoder's key table and checks
// that each key is in the example: set, or (for alternatives that cannot
// be set together) as a commented-out "# key:" line inside its section.
func TestExampleDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	present := make(map[string]bool)
	sections := make(map[string][2]int) // section → first and last line
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		switch n.Kind {
		case yaml.MappingNode:
			sections[prefix] = [2]int{n.Line, lastLine(n)}
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				key := k.Value
				if prefix != "" {
					key = prefix + "." + k.Value
				}
				if v.Kind == yaml.MappingNode || (v.Kind == yaml.SequenceNode && len(v.Content) > 0 && v.Content[0].Kind == yaml.MappingNode) {
					walk(v, key)
					continue
				}
				present[key] = true
			}
		case yaml.SequenceNode:
			for _, item := range n.Content {
				walk(item, prefix+"[]")
			}
		}
	}
	walk(doc.Content[0], "")

	lines := strings.Split(string(data), "\n")
	for _, key := range KnownKeys() {
		if present[key] {
			continue
		}
		i := strings.LastIndexByte(key, '.')
		section, leaf := key[:max(i, 0)], key[i+1:]
		span, ok := sections[section]
		if !ok {
			t.Errorf("config.example.yaml lacks the section of %s", key)
			continue
		}
		re := regexp.MustCompile(`^\s*#\s*` + regexp.QuoteMeta(leaf) + `:`)
		found := false
		for n := span[0]; n <= span[1]+1 && n <= len(lines); n++ {
			found = found || re.MatchString(lines[n-1])
		}
		if !found {
			t.Errorf("config.example.yaml does not document %s (add it with its default and a comment, lines %d-%d)", key, span[0], span[1])
		}
	}
	// And the other way: every key in the example is one the decoder knows.
	known := make(map[string]bool)
	for _, k := range KnownKeys() {
		known[k] = true
	}
	for k := range present {
		if !known[k] {
			t.Errorf("config.example.yaml has %s, which the decoder does not know", k)
		}
	}
	// Every set key has a comment (above it, or at the end of its line).
	for n, l := range lines {
		if m := regexp.MustCompile(`^\s*-?\s*([a-z_]+):\s*\S`).FindStringSubmatch(l); m != nil && !strings.Contains(l, "#") {
			if n == 0 || !strings.HasPrefix(strings.TrimSpace(lines[n-1]), "#") {
				t.Errorf("config.example.yaml:%s: %s has no comment", strconv.Itoa(n+1), m[1])
			}
		}
	}
}

// lastLine is the last line a node spans.
func lastLine(n *yaml.Node) int {
	last := n.Line
	for _, c := range n.Content {
		last = max(last, lastLine(c))
	}
	return last
}

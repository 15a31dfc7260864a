package config

import (
	"os"
	"testing"
)

func FuzzParse(f *testing.F) {
	f.Add([]byte(baseYAML))
	if data, err := os.ReadFile(examplePath); err == nil {
		f.Add(data)
	}
	f.Add([]byte(""))
	f.Add([]byte("flinks: [\n"))
	f.Add([]byte("inboxes:\n  - path: a\n    outbox: a/b\n"))
	f.Add([]byte("workers: &a 1\nretention: *a\n"))
	f.Add([]byte("<<: {workers: 1}\n"))
	f.Add([]byte("flinks: {client_secret: \"${A\", client_secret_file: x}\n"))
	f.Add([]byte("--- \n---\n"))
	f.Add([]byte("limits: {types: [PDF, .png, ~]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		env := testEnv(map[string]string{"A": "a", "HOME": "/home/x"})
		read := func(string) ([]byte, error) { return []byte("file-secret\n"), nil }
		c, err := Parse(data, ParseOptions{Name: "fuzz.yaml", BaseDir: "/base", LookupEnv: env, ReadFile: read})
		if err != nil {
			if c != nil {
				t.Errorf("Parse returned a Config and an error %v", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Errorf("Parse succeeded but Validate() = %v\ninput: %q", err, data)
		}
	})
}

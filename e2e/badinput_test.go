package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flinkdrop/flinkdrop/internal/samples"
	"github.com/flinkdrop/flinkdrop/report"
)

// TestBadInput drops, with the default limits, the files and folder names
// an operator's scanners and users produce: each gets the outcome SPEC
// promises (rejected files to failed/ with a copy of the report and a
// clear reason, the rest archived) and every input file ends somewhere.
func TestBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, simOptions{}, cfgOptions{})
	ok := func(tag string) []byte { return samples.PDF(t.Name() + " " + tag) }

	// A file one byte over 18 MiB, made sparse so it costs nothing.
	e.addFolderFunc("big", func(dir string) {
		f, err := os.Create(filepath.Join(dir, "big.pdf"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString("%PDF-1.4\n"); err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(18<<20 + 1); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "ok.pdf"), ok("big"), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	e.addFolder("wrongext", map[string][]byte{"letter.docx": []byte("PK\x03\x04 not a statement"), "ok.pdf": ok("wrongext")})
	e.addFolder("pngaspdf", map[string][]byte{"scan.pdf": samples.PNG(7), "ok.pdf": ok("pngaspdf")})
	e.addFolder("empty", map[string][]byte{"blank.pdf": {}, "ok.pdf": ok("empty")})
	e.addFolder("many", pdfs(t.Name()+"/many", 25))
	long := strings.Repeat("n", 250) + "-long"
	names := []string{"CON", "foo..bar", long, "relevé-été-日本語", "acme.", "with space", "nested", "nested/inner"}
	for _, n := range names {
		e.addFolder(n, map[string][]byte{"ok.pdf": ok(n)})
	}
	e.addFolder("", map[string][]byte{"loose.pdf": ok("loose")})
	// A hidden folder is left alone (SPEC §4), its file untouched.
	hidden := filepath.Join(e.inbox, "..foo")
	if err := os.Mkdir(hidden, 0o755); err != nil {
		t.Fatal(err)
	}
	hiddenData := ok("hidden")
	if err := os.WriteFile(filepath.Join(hidden, "kept.pdf"), hiddenData, 0o644); err != nil {
		t.Fatal(err)
	}
	e.keep = map[string]bool{"..foo": true}
	folders := 5 + len(names) + 1

	d := e.start(nil, "run")
	e.waitSettled(d, folders, 90*time.Second)
	d.stop()

	res := e.verify(map[string]want{
		"big":      {rejected: map[string]string{"big.pdf": "max_file_mb"}},
		"wrongext": {rejected: map[string]string{"letter.docx": "not accepted"}},
		"pngaspdf": {rejected: map[string]string{"scan.pdf": "PNG"}},
		"empty":    {rejected: map[string]string{"blank.pdf": "empty"}},
		"many":     {outcome: report.OutcomeRejected, errStage: "limits", rejected: allRejected(pdfs("", 25), "limits")},
	}, report.OutcomeUploaded)
	if r := res.reports["many"]; r.Error == nil || !strings.Contains(r.Error.Message, "max_files_per_session") {
		t.Errorf("folder many: error %+v, want a message naming limits.max_files_per_session", r.Error)
	}
	if got, err := os.ReadFile(filepath.Join(hidden, "kept.pdf")); err != nil || string(got) != string(hiddenData) {
		t.Errorf("the hidden folder's file was touched (%v), want it left alone", err)
	}

	// Names made from folder names are safe and bounded.
	for _, dir := range []string{e.outbox, e.archive, e.failed} {
		_ = filepath.WalkDir(dir, func(path string, de os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := de.Name()
			switch {
			case len(name) > 255:
				t.Errorf("%s: a name of %d bytes, want at most 255", path, len(name))
			case strings.EqualFold(strings.SplitN(name, ".", 2)[0], "CON"):
				t.Errorf("%s: a reserved Windows name", path)
			case strings.HasSuffix(name, ".") || strings.HasSuffix(name, " "):
				t.Errorf("%s: a name ending in a dot or space (not portable to Windows)", path)
			case strings.ContainsAny(name, `\:*?"<>|`):
				t.Errorf("%s: a name with characters Windows refuses", path)
			}
			return nil
		})
	}
	t.Logf("bad input: %s", describe(res))
}

func allRejected(files map[string][]byte, reason string) map[string]string {
	out := map[string]string{}
	for name := range files {
		out[name] = reason
	}
	return out
}

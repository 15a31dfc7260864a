package report

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestSafeName(t *testing.T) {
	long := strings.Repeat("a", 300)
	tests := []struct {
		in, want string
	}{
		{"applicant-1234", "applicant-1234"},
		{"", "_"},
		{".", "_"},
		{"..", "_"},
		{"...", "_"},
		{"a/b", "a_b"},
		{`a\b`, "a_b"},
		{"a/../b", "a_.._b"},
		{"../etc", "_._etc"},
		{".hidden", "_hidden"},
		{"CON", "_CON"},
		{"con", "_con"},
		{"con.txt", "_con.txt"},
		{"Con .txt", "_Con .txt"},
		{"nul.tar.gz", "_nul.tar.gz"},
		{"PRN", "_PRN"},
		{"aux", "_aux"},
		{"COM1", "_COM1"},
		{"com0.pdf", "_com0.pdf"},
		{"LPT9", "_LPT9"},
		{"com¹", "_com¹"},
		{"CONIN$", "_CONIN$"},
		{"COM10", "COM10"},
		{"CONSOLE", "CONSOLE"},
		{"a.con", "a.con"},
		{"trailing...", "trailing"},
		{"trailing. . ", "trailing"},
		{" lead", " lead"},
		{`a<b>c:d"e|f?g*h`, "a_b_c_d_e_f_g_h"},
		{"tab\there\nnew", "tab_here_new"},
		{"nul\x00byte", "nul_byte"},
		{"del\x7f", "del_"},
		{"bad\xffutf8", "bad_utf8"},
		{"relevés-été/janvier", "relevés-été_janvier"},
		{"日本語/明細", "日本語_明細"},
		{"client 42/2026-01", "client 42_2026-01"},
		{long, strings.Repeat("a", MaxNameBytes-1-hashLen) + "-" + shortHash(long)},
	}
	for _, tt := range tests {
		if got := SafeName(tt.in); got != tt.want {
			t.Errorf("SafeName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// shortHash is the hash suffix SafeName appends, computed independently.
func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:hashLen]
}

func TestSafeNameLong(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"ascii", strings.Repeat("x", 300)},
		{"two-byte runes", strings.Repeat("é", 150)},
		{"three-byte runes", strings.Repeat("語", 100)},
		{"four-byte runes", strings.Repeat("😀", 80)},
		{"dots at the cut", strings.Repeat("a", 110) + strings.Repeat(".", 50) + "b"},
		{"exactly the bound", strings.Repeat("b", MaxNameBytes)},
	}
	for _, tt := range tests {
		got := SafeName(tt.in)
		if len(got) > MaxNameBytes {
			t.Errorf("%s: len(SafeName) = %d, want <= %d", tt.name, len(got), MaxNameBytes)
		}
		if !utf8.ValidString(got) {
			t.Errorf("%s: SafeName = %q, not valid UTF-8", tt.name, got)
		}
		if strings.HasSuffix(got, ".") || strings.HasSuffix(got, " ") {
			t.Errorf("%s: SafeName = %q ends in a dot or space", tt.name, got)
		}
	}
	if got := SafeName(strings.Repeat("b", MaxNameBytes)); got != strings.Repeat("b", MaxNameBytes) {
		t.Errorf("SafeName(120 b) = %q, want it unchanged", got)
	}
	// Long names that differ only after the cut stay distinct.
	a, b := SafeName(strings.Repeat("x", 200)+"1"), SafeName(strings.Repeat("x", 200)+"2")
	if a == b {
		t.Errorf("SafeName of two long names that differ at the end = %q for both, want distinct", a)
	}
}

// TestSafeNameCreatable proves every output is one path component that can
// be created as a file in a folder.
func TestSafeNameCreatable(t *testing.T) {
	dir := t.TempDir()
	inputs := []string{
		"", ".", "..", "a/b", `a\b`, "CON", "con.txt", "trailing...", "x:y", "tab\tx",
		"\x00", "bad\xff", "日本語", strings.Repeat("é", 200), strings.Repeat("z", 400),
		".hidden", "a/../../b", "COM1.pdf", "?*?", " ",
	}
	for _, in := range inputs {
		name := SafeName(in)
		if filepath.Base(name) != name {
			t.Errorf("SafeName(%q) = %q, not a single path component", in, name)
			continue
		}
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			t.Errorf("os.Create(SafeName(%q) = %q): %v", in, name, err)
			continue
		}
		f.Close()
		if got := filepath.Dir(p); got != dir {
			t.Errorf("SafeName(%q) = %q lands in %s, want %s", in, name, got, dir)
		}
		if err := os.Remove(p); err != nil {
			t.Errorf("remove %q: %v", name, err)
		}
	}
}

func TestSessionBaseAndDirs(t *testing.T) {
	root := filepath.Join("srv", "archive")
	day := time.Date(2026, 1, 2, 23, 30, 0, 0, time.FixedZone("east", 5*3600))
	tests := []struct {
		what, got, want string
	}{
		{"SessionBase", SessionBase("applicant-1", "5f1c-AB_9"), "applicant-1__5f1c-AB_9"},
		{"SessionBase odd id", SessionBase("a", "../x"), "a___._x"},
		{"SessionBase raw folder", SessionBase("a/b", "id"), "a_b__id"},
		{"SessionBase empty id", SessionBase("a", ""), "a___"},
		{"ArchiveDir", ArchiveDir(root, day, "applicant-1", "login-9"), filepath.Join(root, "2026-01-02", "applicant-1__login-9")},
		{"FailedDir", FailedDir(root, "applicant-1", "sess-3"), filepath.Join(root, "applicant-1__sess-3")},
		{"FailedDir odd", FailedDir(root, "..", "a/b"), filepath.Join(root, "___a_b")},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.what, tt.got, tt.want)
		}
	}
}

func TestIsReservedWindowsName(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"CON", true}, {"con.txt", true}, {"CON .txt", true}, {"Lpt3.x.y", true}, {"COM²", true},
		{"COM", false}, {"COM10", false}, {"CONX", false}, {"_CON", false}, {"a.CON", false}, {"", false},
	}
	for _, tt := range tests {
		if got := isReservedWindowsName(tt.in); got != tt.want {
			t.Errorf("isReservedWindowsName(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func FuzzSafeName(f *testing.F) {
	for _, s := range []string{
		"", ".", "..", "a/b", `a\b`, "CON", "con.txt", "COM¹.pdf", "trailing. .", ".hidden",
		"x<y>z", "\x00\x1f", "bad\xff\xfe", "日本語/明細", strings.Repeat("é", 130), strings.Repeat("a.", 100),
		"lpt0 .tar", "CONOUT$", " ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := SafeName(in)
		if got == "" {
			t.Fatalf("SafeName(%q) is empty", in)
		}
		if len(got) > MaxNameBytes {
			t.Fatalf("SafeName(%q) = %q is %d bytes, want <= %d", in, got, len(got), MaxNameBytes)
		}
		if strings.ContainsAny(got, `/\<>:"|?*`) {
			t.Fatalf("SafeName(%q) = %q holds a separator or a character Windows refuses", in, got)
		}
		for _, r := range got {
			if r < 0x20 || r == 0x7f || r == utf8.RuneError {
				t.Fatalf("SafeName(%q) = %q holds control character or invalid UTF-8 %U", in, got, r)
			}
		}
		if got == "." || got == ".." || strings.HasPrefix(got, ".") {
			t.Fatalf("SafeName(%q) = %q is a dot name or hidden", in, got)
		}
		if strings.HasSuffix(got, ".") || strings.HasSuffix(got, " ") {
			t.Fatalf("SafeName(%q) = %q ends in a dot or space", in, got)
		}
		if isReservedWindowsName(got) {
			t.Fatalf("SafeName(%q) = %q is a reserved Windows name", in, got)
		}
		if filepath.Base(got) != got {
			t.Fatalf("SafeName(%q) = %q is not one path component", in, got)
		}
		if again := SafeName(in); again != got {
			t.Fatalf("SafeName(%q) = %q then %q, want deterministic", in, got, again)
		}
		if twice := SafeName(got); twice != got {
			t.Fatalf("SafeName(SafeName(%q)) = %q, want %q (idempotent)", in, twice, got)
		}
	})
}

package report

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func BenchmarkSafeName(b *testing.B) {
	names := []string{"applicant-1234/2026-01", strings.Repeat("relevé ", 40), "CON.pdf"}
	for b.Loop() {
		for _, n := range names {
			SafeName(n)
		}
	}
}

// BenchmarkWrite writes a report into an outbox that already holds many:
// Write lists the outbox once per call to remove stale temporary files.
func BenchmarkWrite(b *testing.B) {
	for _, existing := range []int{0, 5000} {
		b.Run(fmt.Sprintf("existing=%d", existing), func(b *testing.B) {
			outbox := b.TempDir()
			for i := range existing {
				p := filepath.Join(outbox, fmt.Sprintf("old-%d__x.json", i))
				if err := os.WriteFile(p, []byte(`{"session_id":"old"}`), 0o644); err != nil {
					b.Fatal(err)
				}
			}
			r := fullReport("s")
			i := 0
			for b.Loop() {
				i++
				r.SessionID = fmt.Sprintf("s-%d", i)
				if _, err := Write(outbox, fmt.Sprintf("new-%d__x", i), r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkValidate(b *testing.B) {
	doc, err := Encode(fullReport("s"))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Validator", func(b *testing.B) {
		v, err := NewValidator()
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if err := v.Validate(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Validate", func(b *testing.B) {
		for b.Loop() {
			if err := Validate(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkMoveCopy moves an 8 MB file through the cross-device copy path.
func BenchmarkMoveCopy(b *testing.B) {
	dir := b.TempDir()
	content := strings.Repeat("x", 8<<20)
	var calls int
	m := crossDevice(&calls)
	b.SetBytes(int64(len(content)))
	i := 0
	for b.Loop() {
		i++
		src := filepath.Join(dir, "in", fmt.Sprintf("f%d.pdf", i))
		b.StopTimer()
		if err := os.MkdirAll(filepath.Dir(src), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(src, []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := m.moveFiles(context.Background(), []MoveItem{{Src: src, Size: int64(len(content))}}, filepath.Join(dir, "out")); err != nil {
			b.Fatal(err)
		}
	}
}

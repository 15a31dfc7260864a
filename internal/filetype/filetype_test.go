package filetype

import (
	"bytes"
	"errors"
	"testing"
)

var (
	pdfHead  = []byte("%PDF-1.7\n")
	pngHead  = []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0}
	jpegHead = []byte{0xff, 0xd8, 0xff, 0xe0, 0, 0x10}
	tiffII   = []byte{'I', 'I', 0x2a, 0x00, 8, 0, 0, 0}
	tiffMM   = []byte{'M', 'M', 0x00, 0x2a, 0, 0, 0, 8}
)

func TestMatches(t *testing.T) {
	tests := []struct {
		ext    string
		header []byte
		want   bool
	}{
		{"pdf", pdfHead, true},
		{".PDF", pdfHead, true},
		{"png", pngHead, true},
		{"PNG", pngHead, true},
		{"jpg", jpegHead, true},
		{"JPEG", jpegHead, true},
		{"tif", tiffII, true},
		{"tiff", tiffMM, true},
		{"pdf", pngHead, false}, // a PNG named .pdf
		{"png", pdfHead, false},
		{"jpg", tiffII, false},
		{"tiff", jpegHead, false},
		{"pdf", []byte("%PD"), false}, // truncated magic
		{"pdf", nil, false},
		{"docx", pdfHead, false}, // unknown extension
		{"", pdfHead, false},
		{"tif", []byte{'I', 'I', 0x2b, 0}, false}, // BigTIFF is not accepted
	}
	for _, tt := range tests {
		if got := Matches(tt.ext, tt.header); got != tt.want {
			t.Errorf("Matches(%q, % x) = %v, want %v", tt.ext, tt.header, got, tt.want)
		}
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"pdf", pdfHead, PDF},
		{"png", pngHead, PNG},
		{"jpeg", jpegHead, JPEG},
		{"tiff little-endian", tiffII, TIFF},
		{"tiff big-endian", tiffMM, TIFF},
		{"empty", nil, ""},
		{"short jpeg", []byte{0xff, 0xd8, 0xff}, JPEG},
		{"text", []byte("hello, world"), ""},
	}
	for _, tt := range tests {
		got, err := Detect(bytes.NewReader(tt.in))
		if err != nil {
			t.Fatalf("Detect(%s): %v", tt.name, err)
		}
		if got != tt.want {
			t.Errorf("Detect(%s) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

type failReader struct{}

func (failReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestDetectReadError(t *testing.T) {
	if _, err := Detect(failReader{}); err == nil {
		t.Errorf("Detect(failing reader) error = nil, want the read error")
	}
}

func FuzzDetect(f *testing.F) {
	for _, seed := range [][]byte{pdfHead, pngHead, jpegHead, tiffII, tiffMM, nil, []byte("x")} {
		f.Add(seed, "pdf")
	}
	f.Fuzz(func(t *testing.T, data []byte, ext string) {
		got, err := Detect(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("Detect: %v", err)
		}
		if got != "" && !Matches(got, data) {
			t.Errorf("Detect = %q but Matches(%q, data) = false", got, got)
		}
		if Matches(ext, data) && ForExt(ext) != got {
			t.Errorf("Matches(%q) true but Detect = %q", ext, got)
		}
	})
}

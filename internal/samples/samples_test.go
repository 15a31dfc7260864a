package samples

import (
	"bytes"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"
)

func TestSamplesAreWhatTheyClaim(t *testing.T) {
	pdf := PDF("Statement (January) \\ 2026")
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) || !bytes.HasSuffix(pdf, []byte("%%EOF\n")) {
		t.Errorf("PDF() does not start with %%PDF- and end with %%%%EOF")
	}
	if !strings.Contains(string(pdf), `\(January\)`) {
		t.Errorf("PDF() did not escape parentheses")
	}
	if _, err := png.Decode(bytes.NewReader(PNG(1))); err != nil {
		t.Errorf("PNG() does not decode: %v", err)
	}
	if _, err := jpeg.Decode(bytes.NewReader(JPEG(2))); err != nil {
		t.Errorf("JPEG() does not decode: %v", err)
	}
	tiff := TIFF(3)
	if !bytes.HasPrefix(tiff, []byte("II*\x00")) || len(tiff) != 8+2+9*12+4+32*16 {
		t.Errorf("TIFF() has header %q and %d bytes", tiff[:4], len(tiff))
	}
	if bytes.Equal(PNG(1), PNG(2)) {
		t.Error("PNG(1) == PNG(2): seeds do not change the image")
	}
}

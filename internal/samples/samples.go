// Package samples makes small, valid documents of every accepted type, for
// the demo and for tests: a one-page PDF with a line of text, and PNG, JPEG
// and TIFF images.
package samples

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
)

// PDF returns a one-page PDF that shows text.
func PDF(text string) []byte {
	var b bytes.Buffer
	var offsets []int
	obj := func(body string) {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offsets), body)
	}
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
	obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>")
	stream := fmt.Sprintf("BT /F1 18 Tf 72 720 Td (%s) Tj ET", escapePDF(text))
	obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(stream), stream))
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	return b.Bytes()
}

func escapePDF(s string) string {
	var b bytes.Buffer
	for _, r := range s {
		switch {
		case r == '(' || r == ')' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 32 || r > 126:
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// picture draws a small deterministic image seeded by seed.
func picture(seed byte) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for y := 0; y < 48; y++ {
		for x := 0; x < 64; x++ {
			img.Set(x, y, color.RGBA{R: byte(x*4) ^ seed, G: byte(y * 5), B: seed, A: 255})
		}
	}
	return img
}

// PNG returns a small PNG image.
func PNG(seed byte) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, picture(seed)); err != nil {
		panic(err) // encoding an in-memory image cannot fail
	}
	return b.Bytes()
}

// JPEG returns a small JPEG image.
func JPEG(seed byte) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, picture(seed), &jpeg.Options{Quality: 80}); err != nil {
		panic(err) // encoding an in-memory image cannot fail
	}
	return b.Bytes()
}

// TIFF returns a small uncompressed 8-bit grey TIFF image (little endian).
func TIFF(seed byte) []byte {
	const w, h = 32, 16
	pixels := make([]byte, w*h)
	for i := range pixels {
		pixels[i] = byte(i) ^ seed
	}
	type entry struct {
		tag, typ uint16
		count    uint32
		value    uint32
	}
	const short, long = 3, 4
	entries := []entry{
		{256, short, 1, w},    // ImageWidth
		{257, short, 1, h},    // ImageLength
		{258, short, 1, 8},    // BitsPerSample
		{259, short, 1, 1},    // Compression: none
		{262, short, 1, 1},    // Photometric: black is zero
		{273, long, 1, 0},     // StripOffsets, filled below
		{277, short, 1, 1},    // SamplesPerPixel
		{278, short, 1, h},    // RowsPerStrip
		{279, long, 1, w * h}, // StripByteCounts
	}
	ifdOffset := uint32(8)
	dataOffset := ifdOffset + 2 + uint32(len(entries))*12 + 4
	entries[5].value = dataOffset
	var b bytes.Buffer
	b.WriteString("II*\x00")
	le := binary.LittleEndian
	_ = binary.Write(&b, le, ifdOffset)
	_ = binary.Write(&b, le, uint16(len(entries)))
	for _, e := range entries {
		_ = binary.Write(&b, le, e.tag)
		_ = binary.Write(&b, le, e.typ)
		_ = binary.Write(&b, le, e.count)
		if e.typ == short {
			_ = binary.Write(&b, le, uint16(e.value))
			_ = binary.Write(&b, le, uint16(0))
		} else {
			_ = binary.Write(&b, le, e.value)
		}
	}
	_ = binary.Write(&b, le, uint32(0)) // no next IFD
	b.Write(pixels)
	return b.Bytes()
}

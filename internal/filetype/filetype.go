// Package filetype recognises the document types flinkdrop accepts from the
// first bytes of a file, so a PNG named .pdf is caught before upload.
package filetype

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Types flinkdrop can recognise, as returned by Detect.
const (
	PDF  = "pdf"
	PNG  = "png"
	JPEG = "jpeg"
	TIFF = "tiff"
)

// HeaderLen is how many leading bytes Detect reads and Matches needs.
const HeaderLen = 8

var (
	pdfMagic  = []byte("%PDF-")
	pngMagic  = []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}
	jpegMagic = []byte{0xff, 0xd8, 0xff}
	tiffLE    = []byte{'I', 'I', 0x2a, 0x00}
	tiffBE    = []byte{'M', 'M', 0x00, 0x2a}
)

// Sniff returns the type whose magic bytes start header, or "" when none does.
func Sniff(header []byte) string {
	switch {
	case bytes.HasPrefix(header, pdfMagic):
		return PDF
	case bytes.HasPrefix(header, pngMagic):
		return PNG
	case bytes.HasPrefix(header, jpegMagic):
		return JPEG
	case bytes.HasPrefix(header, tiffLE), bytes.HasPrefix(header, tiffBE):
		return TIFF
	}
	return ""
}

// Detect reads up to HeaderLen bytes from r and returns the type they show,
// "" when they match no known type. A read error other than a short file is
// returned.
func Detect(r io.Reader) (string, error) {
	header := make([]byte, HeaderLen)
	n, err := io.ReadFull(r, header)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("filetype: read header: %w", err)
	}
	return Sniff(header[:n]), nil
}

// ForExt returns the type an extension (with or without the dot, any case)
// promises, or "" for an extension flinkdrop does not know.
func ForExt(ext string) string {
	switch strings.ToLower(strings.TrimPrefix(ext, ".")) {
	case "pdf":
		return PDF
	case "png":
		return PNG
	case "jpg", "jpeg":
		return JPEG
	case "tif", "tiff":
		return TIFF
	}
	return ""
}

// Matches reports whether header (the first bytes of a file) is the type
// that ext promises. An unknown extension never matches.
func Matches(ext string, header []byte) bool {
	want := ForExt(ext)
	return want != "" && Sniff(header) == want
}

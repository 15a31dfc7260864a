package main

import (
	"bytes"
	"context"
	"runtime"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"version"}, strings.NewReader(""), &out, &errOut)
	if code != exitOK {
		t.Fatalf("version exit = %d, stderr %q", code, errOut.String())
	}
	if !strings.Contains(out.String(), "flinkdrop "+version) || !strings.Contains(out.String(), runtime.Version()) {
		t.Errorf("version printed %q, want the version and %s", out.String(), runtime.Version())
	}
}

func TestUnknownCommandIsUsageError(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"frobnicate"}, strings.NewReader(""), &out, &errOut); code != exitUsage {
		t.Errorf("unknown command exit = %d, want %d", code, exitUsage)
	}
}

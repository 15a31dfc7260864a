package secret

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

const distinctive = "s3cr3t-Value-Zq9"

func TestValueNeverPrints(t *testing.T) {
	v := New(distinctive)
	type holder struct {
		Name   string
		Secret Value
		Ptr    *Value
	}
	h := holder{Name: "x", Secret: v, Ptr: &v}
	var outputs []string
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s", "%T"} {
		outputs = append(outputs, fmt.Sprintf(format, v), fmt.Sprintf(format, h), fmt.Sprintf(format, &h))
	}
	outputs = append(outputs, fmt.Sprint(v), fmt.Sprintln(v, h))
	outputs = append(outputs, fmt.Errorf("token: %v", v).Error(), errors.New(v.String()).Error())
	j, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, string(j))
	var buf bytes.Buffer
	log := zerolog.New(&buf)
	log.Info().Interface("h", h).Stringer("v", v).Object("o", v).Msgf("%v", v)
	outputs = append(outputs, buf.String())
	for _, out := range outputs {
		if strings.Contains(out, distinctive) {
			t.Errorf("secret leaked in %q", out)
		}
	}
	if !strings.Contains(fmt.Sprint(v), Redacted) {
		t.Errorf("fmt.Sprint(v) = %q, want %q", fmt.Sprint(v), Redacted)
	}
	if got := v.Reveal(); got != distinctive {
		t.Errorf("Reveal() = %q, want %q", got, distinctive)
	}
}

func TestZeroValue(t *testing.T) {
	var v Value
	if !v.IsZero() || v.String() != "" {
		t.Errorf("zero Value: IsZero=%v String=%q", v.IsZero(), v.String())
	}
	if New("x").IsZero() {
		t.Error("New(\"x\").IsZero() = true")
	}
}

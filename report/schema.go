package report

import (
	"bytes"
	_ "embed" // for the schema
	"errors"
	"fmt"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// schemaJSON is the JSON Schema (draft 2020-12) of a report, version 1.
//
//go:embed schema.json
var schemaJSON []byte

// schemaURL is the $id of schema.json.
const schemaURL = "urn:flinkdrop:report:1"

// Schema returns the report JSON Schema, for documentation and for tools.
func Schema() []byte {
	return bytes.Clone(schemaJSON)
}

// Validator checks documents against the report schema. Build one with
// NewValidator to validate many documents; it is safe for concurrent use.
type Validator struct {
	schema *jsonschema.Schema
}

// NewValidator compiles the embedded schema, with format assertions on (so
// times must be RFC 3339 date-times).
func NewValidator() (*Validator, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
	if err != nil {
		return nil, fmt.Errorf("report: parse embedded schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, fmt.Errorf("report: load embedded schema: %w", err)
	}
	s, err := c.Compile(schemaURL)
	if err != nil {
		return nil, fmt.Errorf("report: compile embedded schema: %w", err)
	}
	return &Validator{schema: s}, nil
}

// Validate checks one JSON document. A document that is not JSON, or does
// not match, gives an error that wraps ErrInvalid and says where.
func (v *Validator) Validate(doc []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("report: validate: %w: not JSON: %w", ErrInvalid, err)
	}
	if err := v.schema.Validate(inst); err != nil {
		var verr *jsonschema.ValidationError
		if errors.As(err, &verr) {
			return fmt.Errorf("report: validate: %w: %s", ErrInvalid, describe(verr))
		}
		return fmt.Errorf("report: validate: %w: %w", ErrInvalid, err)
	}
	return nil
}

// Validate checks doc against the embedded report schema (draft 2020-12).
// It compiles the schema on every call; use a Validator for many documents.
func Validate(doc []byte) error {
	v, err := NewValidator()
	if err != nil {
		return err
	}
	return v.Validate(doc)
}

// describe flattens a validation error into "at /path: message; …", naming
// only the innermost causes, which are the useful ones.
func describe(verr *jsonschema.ValidationError) string {
	printer := message.NewPrinter(language.English)
	var parts []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			loc := "/"
			for i, p := range e.InstanceLocation {
				if i == 0 {
					loc = ""
				}
				loc += "/" + p
			}
			parts = append(parts, fmt.Sprintf("at %s: %s", loc, e.ErrorKind.LocalizedString(printer)))
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(verr)
	if len(parts) == 0 {
		return verr.Error()
	}
	out := parts[0]
	for _, p := range parts[1:] {
		out += "; " + p
	}
	return out
}

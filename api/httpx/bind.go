package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/errs"
)

// Bind decodes the JSON request body into v. Unknown fields, trailing data
// and syntax errors are 400s that say where the problem is; a body that is
// not JSON is 415.
func Bind(c *fiber.Ctx, v any) error {
	ct := strings.ToLower(strings.TrimSpace(strings.SplitN(c.Get(fiber.HeaderContentType), ";", 2)[0]))
	if ct != "" && ct != fiber.MIMEApplicationJSON && !strings.HasSuffix(ct, "+json") {
		return errs.E(errs.UnsupportedMedia, "unsupported_media_type",
			fmt.Sprintf("expected Content-Type application/json, got %q", ct))
	}
	return DecodeJSON(c.Body(), v)
}

// DecodeJSON strictly decodes body into v; see Bind.
func DecodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errs.E(errs.BadRequest, "empty_body", "request body is empty; send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(body, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errs.E(errs.BadRequest, "malformed_json", "unexpected data after the JSON value")
	}
	return nil
}

func jsonError(body []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		line, col := position(body, syn.Offset)
		return errs.E(errs.BadRequest, "malformed_json",
			fmt.Sprintf("malformed JSON at line %d, column %d: %s", line, col, syn.Error())).
			WithDetails(map[string]any{"line": line, "column": col})
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(body)"
		}
		return errs.E(errs.BadRequest, "wrong_type",
			fmt.Sprintf("field %q must be %s, not %s", field, jsonTypeName(typ.Type.Kind().String()), typ.Value)).
			WithDetails(map[string]any{"field": field})
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errs.E(errs.BadRequest, "malformed_json", "malformed JSON: the body ends before the value is complete")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return errs.E(errs.BadRequest, "unknown_field", fmt.Sprintf("unknown field %q", name)).
			WithDetails(map[string]any{"field": name})
	default:
		if e := errs.As(err); e != nil { // from a type's UnmarshalJSON
			return e
		}
		return errs.E(errs.BadRequest, "malformed_json", "malformed JSON: "+err.Error())
	}
}

func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return "a number"
	}
	return kind
}

func position(body []byte, offset int64) (line, col int) {
	line, col = 1, 1
	for i, b := range body {
		if int64(i) >= offset-1 {
			break
		}
		if b == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

// ParamUUID reads a path parameter that must be a UUID. A malformed id can
// name nothing, so it is a 404 like an id of another tenant.
func ParamUUID(c *fiber.Ctx, name, what string) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Params(name))
	if err != nil {
		return uuid.Nil, errs.NotFoundf("no such %s", what)
	}
	return id, nil
}

// QueryUUID reads an optional query parameter that must be an id.
func QueryUUID(c *fiber.Ctx, name string) (*uuid.UUID, error) {
	v := c.Query(name)
	if v == "" {
		return nil, nil
	}
	id, err := uuid.Parse(v)
	if err != nil {
		return nil, BadQuery(name, name+" must be an id")
	}
	return &id, nil
}

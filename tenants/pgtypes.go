package tenants

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// UUIDs is a Postgres uuid[] column.
type UUIDs []uuid.UUID

// Scan reads the text form {a,b,c}.
func (u *UUIDs) Scan(src any) error {
	var s string
	switch v := src.(type) {
	case string:
		s = v
	case []byte:
		s = string(v)
	case nil:
		*u = nil
		return nil
	default:
		return fmt.Errorf("UUIDs: cannot scan %T", src)
	}
	s = strings.Trim(s, "{}")
	if s == "" {
		*u = UUIDs{}
		return nil
	}
	parts := strings.Split(s, ",")
	out := make(UUIDs, len(parts))
	for i, p := range parts {
		id, err := uuid.Parse(strings.Trim(p, `"`))
		if err != nil {
			return fmt.Errorf("UUIDs: %w", err)
		}
		out[i] = id
	}
	*u = out
	return nil
}

// Value writes the text form.
func (u UUIDs) Value() (driver.Value, error) {
	parts := make([]string, len(u))
	for i, id := range u {
		parts[i] = id.String()
	}
	return "{" + strings.Join(parts, ",") + "}", nil
}

// jsonbScan and jsonbValue back the jsonb column types.
func jsonbScan(src any, dst any) error {
	switch v := src.(type) {
	case []byte:
		return json.Unmarshal(v, dst)
	case string:
		return json.Unmarshal([]byte(v), dst)
	case nil:
		return nil
	}
	return fmt.Errorf("jsonb: cannot scan %T", src)
}

func jsonbValue(v any) (driver.Value, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

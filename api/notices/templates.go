package notices

import (
	"bytes"
	"fmt"
	"text/template"
	"time"
)

// HoldAvailable is the data of a hold-available notice.
type HoldAvailable struct {
	Library     string // the library's name (its branding)
	PatronName  string
	Title       string
	Branch      string // where to pick it up
	PickupBy    time.Time
	Location    *time.Location
	BranchPhone string
}

var holdAvailableText = template.Must(template.New("hold_available").Parse(`Dear {{.PatronName}},

The item you asked for is waiting for you:

  {{.Title}}

Pick it up at {{.Branch}} by {{.PickupByText}}. After that it goes to the next reader.
{{if .BranchPhone}}
Questions? Call {{.BranchPhone}}.
{{end}}
{{.Library}}
`))

// Render renders the hold-available notice (subject and plain text).
func (h HoldAvailable) Render() (subject, text string, err error) {
	loc := h.Location
	if loc == nil {
		loc = time.UTC
	}
	var b bytes.Buffer
	err = holdAvailableText.Execute(&b, struct {
		HoldAvailable
		PickupByText string
	}{h, h.PickupBy.In(loc).Format("Monday 2 January 2006")})
	if err != nil {
		return "", "", fmt.Errorf("render hold notice: %w", err)
	}
	return fmt.Sprintf("%s: %s is waiting for you", h.Library, h.Title), b.String(), nil
}

// HoldExpired is the data of a hold-expired notice.
type HoldExpired struct {
	Library    string
	PatronName string
	Title      string
	Reason     string // "not picked up in time" or "no longer needed"
}

var holdExpiredText = template.Must(template.New("hold_expired").Parse(`Dear {{.PatronName}},

Your hold on

  {{.Title}}

has ended: {{.Reason}}. If you still want it, place a new hold.

{{.Library}}
`))

// Render renders the hold-expired notice.
func (h HoldExpired) Render() (subject, text string, err error) {
	var b bytes.Buffer
	if err := holdExpiredText.Execute(&b, h); err != nil {
		return "", "", fmt.Errorf("render hold-expired notice: %w", err)
	}
	return fmt.Sprintf("%s: your hold on %s has ended", h.Library, h.Title), b.String(), nil
}

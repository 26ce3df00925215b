package serials

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/tenants"
)

type routingListRow struct {
	TenantID  uuid.UUID
	ID        uuid.UUID
	Name      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

func (routingListRow) TableName() string { return "routing_lists" }

// RoutingMember is one recipient: a staff user or a patron, in order.
type RoutingMember struct {
	Position    int        `json:"position"`
	StaffUserID *uuid.UUID `json:"staff_user_id"`
	PatronID    *uuid.UUID `json:"patron_id"`
	Note        string     `json:"note"`
	Name        string     `json:"name"`
	Email       string     `json:"email"`
}

// RoutingList is an ordered list of recipients of routed issues.
type RoutingList struct {
	ID        uuid.UUID       `json:"id"`
	Name      string          `json:"name"`
	Members   []RoutingMember `json:"members"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// RoutingListInput is the body of POST and PUT /routing-lists: the name and
// the recipients in routing order.
type RoutingListInput struct {
	Name    string `json:"name"`
	Members []struct {
		StaffUserID *uuid.UUID `json:"staff_user_id"`
		PatronID    *uuid.UUID `json:"patron_id"`
		Note        string     `json:"note"`
	} `json:"members"`
}

// CreateRoutingList adds a routing list.
func (s *Service) CreateRoutingList(ctx context.Context, in RoutingListInput) (*RoutingList, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	tenant, _ := tenants.CurrentTenant(ctx)
	row := routingListRow{TenantID: tenant, ID: tenants.NewID()}
	if err := s.saveRoutingList(ctx, &row, in, func() error { return db.Create(&row).Error }); err != nil {
		return nil, err
	}
	return s.GetRoutingList(ctx, row.ID)
}

// ReplaceRoutingList renames a list and replaces its recipients.
func (s *Service) ReplaceRoutingList(ctx context.Context, id uuid.UUID, in RoutingListInput) (*RoutingList, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	row, err := tenants.Find[routingListRow](ctx, "no such routing list", "id = ?", id)
	if err != nil {
		return nil, err
	}
	if err := s.saveRoutingList(ctx, row, in, func() error {
		if err := db.Exec(`DELETE FROM routing_list_members WHERE routing_list_id = ?`, id).Error; err != nil {
			return err
		}
		return db.Model(row).Updates(map[string]any{"name": row.Name, "updated_at": time.Now()}).Error
	}); err != nil {
		return nil, err
	}
	return s.GetRoutingList(ctx, id)
}

func (s *Service) saveRoutingList(ctx context.Context, row *routingListRow, in RoutingListInput, write func() error) error {
	db, err := tenants.DB(ctx)
	if err != nil {
		return err
	}
	row.Name = strings.TrimSpace(in.Name)
	if row.Name == "" || len(row.Name) > 200 {
		return errs.Field("name", "required", "a routing list needs a name (up to 200 characters)")
	}
	if len(in.Members) == 0 || len(in.Members) > 100 {
		return errs.Field("members", "invalid_members", "a routing list has 1 to 100 members")
	}
	for i, m := range in.Members {
		if (m.StaffUserID == nil) == (m.PatronID == nil) {
			return errs.Field(fmt.Sprintf("members[%d]", i), "invalid_member", "each member is a staff_user_id or a patron_id")
		}
	}
	if err := write(); err != nil {
		if code, _ := tenants.PgCode(err); code == tenants.PgUniqueViolation {
			return errs.Field("name", "routing_list_name_taken", "the library already has a routing list named "+row.Name)
		}
		return fmt.Errorf("save routing list: %w", err)
	}
	for i, m := range in.Members {
		err := db.Exec(`INSERT INTO routing_list_members (tenant_id, routing_list_id, position, staff_user_id, patron_id, note)
			VALUES (?, ?, ?, ?, ?, ?)`, row.TenantID, row.ID, i+1, m.StaffUserID, m.PatronID, m.Note).Error
		if err != nil {
			if code, _ := tenants.PgCode(err); code == tenants.PgForeignKeyViolation {
				return errs.Field(fmt.Sprintf("members[%d]", i), "invalid_member", "the member names no staff user or patron of this library")
			}
			return fmt.Errorf("add routing list member: %w", err)
		}
	}
	return nil
}

// GetRoutingList returns a list with its recipients' names.
func (s *Service) GetRoutingList(ctx context.Context, id uuid.UUID) (*RoutingList, error) {
	row, err := tenants.Find[routingListRow](ctx, "no such routing list", "id = ?", id)
	if err != nil {
		return nil, err
	}
	l := &RoutingList{ID: row.ID, Name: row.Name, CreatedAt: row.CreatedAt, UpdatedAt: row.UpdatedAt}
	if l.Members, err = s.members(ctx, id); err != nil {
		return nil, err
	}
	return l, nil
}

// members reads a list's recipients with the names and addresses staff and
// patron records have now.
func (s *Service) members(ctx context.Context, listID uuid.UUID) ([]RoutingMember, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	out := []RoutingMember{}
	err = db.Raw(`SELECT m.position, m.staff_user_id, m.patron_id, m.note,
  COALESCE(NULLIF(u.name, ''), u.email, trim(p.first_name || ' ' || p.last_name)) AS name,
  COALESCE(u.email, p.email, '') AS email
FROM routing_list_members m
LEFT JOIN staff_users u ON u.tenant_id = m.tenant_id AND u.id = m.staff_user_id
LEFT JOIN patrons p ON p.tenant_id = m.tenant_id AND p.id = m.patron_id
WHERE m.routing_list_id = ? ORDER BY m.position`, listID).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("routing list members: %w", err)
	}
	return out, nil
}

// ListRoutingLists returns every routing list by name.
func (s *Service) ListRoutingLists(ctx context.Context) ([]RoutingList, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	var rows []routingListRow
	if err := db.Order("name").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list routing lists: %w", err)
	}
	out := make([]RoutingList, 0, len(rows))
	for _, r := range rows {
		l, err := s.GetRoutingList(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, *l)
	}
	return out, nil
}

// DeleteRoutingList removes a list no subscription routes by.
func (s *Service) DeleteRoutingList(ctx context.Context, id uuid.UUID) error {
	db, err := tenants.DB(ctx)
	if err != nil {
		return err
	}
	if _, err := tenants.Find[routingListRow](ctx, "no such routing list", "id = ?", id); err != nil {
		return err
	}
	if err := db.Exec(`DELETE FROM routing_lists WHERE id = ?`, id).Error; err != nil {
		if code, _ := tenants.PgCode(err); code == tenants.PgForeignKeyViolation {
			return errs.E(errs.Conflict, "routing_list_in_use", "subscriptions route by this list; change their routing_list_id first")
		}
		return fmt.Errorf("delete routing list: %w", err)
	}
	return nil
}

// RoutingSlip goes with a routed issue from recipient to recipient.
type RoutingSlip struct {
	IssueID    uuid.UUID       `json:"issue_id"`
	Title      string          `json:"title"`
	Issue      string          `json:"issue"`
	ReceivedAt *time.Time      `json:"received_at"`
	Branch     string          `json:"branch"`
	Location   string          `json:"location"`
	List       string          `json:"routing_list"`
	Recipients []RoutingMember `json:"recipients"`
}

func (s *Service) slip(ctx context.Context, iss *Issue, sub *Subscription) (*RoutingSlip, error) {
	if sub.RoutingListID == nil {
		return nil, errs.E(errs.Conflict, "not_routed", "this subscription has no routing list")
	}
	l, err := s.GetRoutingList(ctx, *sub.RoutingListID)
	if err != nil {
		return nil, err
	}
	b, err := s.tenants.GetBranch(ctx, sub.BranchID)
	if err != nil {
		return nil, err
	}
	return &RoutingSlip{IssueID: iss.ID, Title: sub.Title, Issue: iss.Label, ReceivedAt: iss.ReceivedAt, Branch: b.Name,
		Location: sub.Location, List: l.Name, Recipients: l.Members}, nil
}

// RoutingSlip returns an issue's routing slip (its subscription must be routed).
func (s *Service) RoutingSlip(ctx context.Context, issueID uuid.UUID) (*RoutingSlip, error) {
	iss, err := s.GetIssue(ctx, issueID)
	if err != nil {
		return nil, err
	}
	sub, err := s.load(ctx, iss.SubscriptionID, false)
	if err != nil {
		return nil, err
	}
	return s.slip(ctx, iss, sub)
}

var slipHTML = template.Must(template.New("slip").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Routing slip: {{.Title}} {{.Issue}}</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto}table{border-collapse:collapse;width:100%}
td,th{border:1px solid #444;padding:.4em;text-align:left}@media print{body{margin:0}}</style></head>
<body><h1>Routing slip</h1>
<p><strong>{{.Title}}</strong><br>{{.Issue}}</p>
<p>Routing list: {{.List}}<br>Return to: {{.Branch}}{{if .Location}}, {{.Location}}{{end}}{{if .ReceivedAt}}<br>Received: {{.ReceivedAt.Format "2006-01-02"}}{{end}}</p>
<table><thead><tr><th>#</th><th>Name</th><th>Note</th><th>Date passed on</th><th>Initials</th></tr></thead><tbody>
{{range .Recipients}}<tr><td>{{.Position}}</td><td>{{.Name}}</td><td>{{.Note}}</td><td></td><td></td></tr>
{{end}}</tbody></table>
<p>Please pass this issue on promptly. The last reader returns it to {{.Branch}}.</p>
</body></html>
`))

// HTML renders the slip as a printable page (names escaped).
func (r *RoutingSlip) HTML() ([]byte, error) {
	var b bytes.Buffer
	if err := slipHTML.Execute(&b, r); err != nil {
		return nil, fmt.Errorf("render routing slip: %w", err)
	}
	return b.Bytes(), nil
}

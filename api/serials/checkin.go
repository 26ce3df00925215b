package serials

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/catalog"
	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/serials/pattern"
	"github.com/stacks-ils/stacks/tenants"
)

// ReceiveInput is the body of the receive routes. A barcode makes the
// issue an item (circulating issues); subscriptions with create_items
// require one.
type ReceiveInput struct {
	Barcode  *string `json:"barcode"`
	ItemType *string `json:"item_type"`
	Note     *string `json:"note"`
}

// ReceiveResult is what check-in answers: the issue, the item made from it
// and the routing slip when the subscription is routed.
type ReceiveResult struct {
	Issue       *Issue        `json:"issue"`
	Item        *catalog.Item `json:"item"`
	RoutingSlip *RoutingSlip  `json:"routing_slip"`
}

// loadIssue locks an issue with its subscription and checks the caller
// handles serials at the subscription's branch.
func (s *Service) loadIssue(ctx context.Context, id uuid.UUID) (*Issue, *Subscription, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, nil, err
	}
	var rows []Issue
	if err := db.Raw(`SELECT * FROM serial_issues WHERE id = ? FOR NO KEY UPDATE`, id).Scan(&rows).Error; err != nil {
		return nil, nil, fmt.Errorf("lock issue: %w", err)
	}
	if len(rows) == 0 {
		return nil, nil, errs.NotFoundf("no such serial issue")
	}
	sub, err := s.load(ctx, rows[0].SubscriptionID, false)
	if err != nil {
		return nil, nil, err
	}
	if err := s.checkBranch(ctx, sub.BranchID); err != nil {
		return nil, nil, err
	}
	return rows[0].fill(), sub, nil
}

// Receive checks an issue in. Any issue not yet received may be: early,
// late, claimed, even one given up as missing or marked not published.
func (s *Service) Receive(ctx context.Context, id uuid.UUID, in ReceiveInput) (*ReceiveResult, error) {
	iss, sub, err := s.loadIssue(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.receive(ctx, iss, sub, in)
}

// ReceiveNext checks in the subscription's earliest regular issue still
// awaited (expected, late or claimed): one scan at the desk.
func (s *Service) ReceiveNext(ctx context.Context, subID uuid.UUID, in ReceiveInput) (*ReceiveResult, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	sub, err := s.load(ctx, subID, false)
	if err != nil {
		return nil, err
	}
	if err := s.checkBranch(ctx, sub.BranchID); err != nil {
		return nil, err
	}
	var rows []Issue
	if err := db.Raw(`SELECT * FROM serial_issues WHERE subscription_id = ? AND kind = 'regular'
		AND status IN ('expected', 'late', 'claimed') ORDER BY expected_on, seq LIMIT 1 FOR NO KEY UPDATE`, subID).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("next expected issue: %w", err)
	}
	if len(rows) == 0 {
		return nil, errs.E(errs.Conflict, "nothing_expected", "no issue of this subscription is awaited; add the issue by hand (POST /subscriptions/{id}/issues) or predict further")
	}
	return s.receive(ctx, rows[0].fill(), sub, in)
}

func (s *Service) receive(ctx context.Context, iss *Issue, sub *Subscription, in ReceiveInput) (*ReceiveResult, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	if iss.Status == IssueReceived {
		return nil, errs.E(errs.Conflict, "already_received", "issue "+iss.Label+" was already received")
	}
	res := &ReceiveResult{}
	if in.Barcode == nil && sub.CreateItems {
		return nil, errs.Field("barcode", "required", "this subscription makes an item of each issue: scan the issue's barcode")
	}
	if in.Barcode != nil {
		itemType := sub.ItemType
		if in.ItemType != nil {
			itemType = *in.ItemType
		}
		if res.Item, err = s.makeItem(ctx, sub, iss, *in.Barcode, itemType); err != nil {
			return nil, err
		}
		iss.ItemID = &res.Item.ID
	}
	now := s.now()
	iss.Status, iss.ReceivedAt, iss.ReceivedBy = IssueReceived, &now, userID(ctx)
	if in.Note != nil {
		iss.Note = *in.Note
	}
	if err := db.Exec(`UPDATE serial_issues SET status = 'received', received_at = ?, received_by = ?, item_id = ?, note = ?, updated_at = now()
		WHERE id = ?`, now, iss.ReceivedBy, iss.ItemID, iss.Note, iss.ID).Error; err != nil {
		return nil, fmt.Errorf("receive issue: %w", err)
	}
	res.Issue = iss
	if sub.RoutingListID != nil {
		if res.RoutingSlip, err = s.slip(ctx, iss, sub); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// makeItem creates the issue's item with the catalogue's item code (which
// checks the barcode and that the caller may catalogue at the branch).
func (s *Service) makeItem(ctx context.Context, sub *Subscription, iss *Issue, barcode, itemType string) (*catalog.Item, error) {
	notes := iss.Label
	items, err := s.catalog.CreateItems(ctx, sub.BibID, []catalog.ItemInput{{Barcode: &barcode, BranchID: &sub.BranchID,
		Location: &sub.Location, ItemType: &itemType, Notes: &notes}})
	if err != nil {
		return nil, err
	}
	return &items[0], nil
}

func userID(ctx context.Context) *uuid.UUID {
	if p := tenants.PrincipalFrom(ctx); p != nil && p.UserID != uuid.Nil {
		id := p.UserID
		return &id
	}
	return nil
}

// NoteInput is the body of missing, damaged and not-published.
type NoteInput struct {
	Note string `json:"note"`
}

// MarkMissing gives an issue up: it is not coming (no more claims).
func (s *Service) MarkMissing(ctx context.Context, id uuid.UUID, in NoteInput) (*Issue, error) {
	return s.mark(ctx, id, IssueMissing, in.Note, []string{IssueExpected, IssueLate, IssueClaimed, IssueNotPublished})
}

// MarkNotPublished records that the publisher skipped an issue: not
// lacking, never claimed.
func (s *Service) MarkNotPublished(ctx context.Context, id uuid.UUID, in NoteInput) (*Issue, error) {
	return s.mark(ctx, id, IssueNotPublished, in.Note, []string{IssueExpected, IssueLate, IssueClaimed, IssueMissing})
}

// MarkDamaged records an issue that came damaged (received now if it was
// not yet); the next claim run asks the vendor for a replacement.
func (s *Service) MarkDamaged(ctx context.Context, id uuid.UUID, in NoteInput) (*Issue, error) {
	if strings.TrimSpace(in.Note) == "" {
		return nil, errs.Field("note", "required", "say what is damaged: the note goes to the vendor with the replacement claim")
	}
	return s.mark(ctx, id, IssueDamaged, in.Note, []string{IssueExpected, IssueLate, IssueClaimed, IssueMissing, IssueReceived})
}

func (s *Service) mark(ctx context.Context, id uuid.UUID, status, note string, from []string) (*Issue, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	iss, _, err := s.loadIssue(ctx, id)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(from, iss.Status) {
		return nil, errs.E(errs.Conflict, "invalid_issue_status", fmt.Sprintf("issue %s is %s and cannot be marked %s", iss.Label, iss.Status, status)).
			WithDetails(map[string]any{"status": iss.Status})
	}
	set := map[string]any{"status": status, "updated_at": time.Now()}
	if note != "" {
		set["note"] = note
	}
	if status == IssueDamaged {
		// A damaged issue is on the shelf; its replacement claim count starts afresh.
		if iss.ReceivedAt == nil {
			now := s.now()
			set["received_at"], set["received_by"] = now, userID(ctx)
		}
		set["claims"], set["last_claimed_at"] = 0, nil
	}
	if err := db.Model(&Issue{}).Where("id = ?", id).Updates(set).Error; err != nil {
		return nil, fmt.Errorf("mark issue %s: %w", status, err)
	}
	return s.GetIssue(ctx, id)
}

// AddIssueInput is the body of POST /subscriptions/{id}/issues: an issue
// the pattern did not predict (a supplement, a special issue, an
// unexpected one), received now unless received is false.
type AddIssueInput struct {
	Kind        string              `json:"kind"`
	Label       string              `json:"label"`
	Enumeration []int               `json:"enumeration"`
	Chronology  *pattern.Chronology `json:"chronology"`
	ExpectedOn  string              `json:"expected_on"`
	Received    *bool               `json:"received"`
	Barcode     *string             `json:"barcode"`
	Note        string              `json:"note"`
}

// AddIssue adds an issue by hand.
func (s *Service) AddIssue(ctx context.Context, subID uuid.UUID, in AddIssueInput) (*ReceiveResult, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	sub, err := s.load(ctx, subID, true)
	if err != nil {
		return nil, err
	}
	if err := s.checkBranch(ctx, sub.BranchID); err != nil {
		return nil, err
	}
	if in.Kind == "" {
		in.Kind = "unexpected"
	}
	if in.Kind == "regular" || !slices.Contains(IssueKinds, in.Kind) {
		return nil, errs.Field("kind", "invalid_kind", "kind is supplement, special or unexpected (regular issues come from the pattern)")
	}
	in.Label = strings.TrimSpace(in.Label)
	if in.Label == "" || len(in.Label) > 200 {
		return nil, errs.Field("label", "required", "label is required (up to 200 characters), e.g. \"v.12 suppl.\"")
	}
	today, err := s.today(ctx)
	if err != nil {
		return nil, err
	}
	expected := today
	if in.ExpectedOn != "" {
		if expected, err = parseDay("expected_on", in.ExpectedOn); err != nil {
			return nil, err
		}
	}
	chron := pattern.Chronology{Year: expected.Year(), Month: int(expected.Month())}
	if in.Chronology != nil {
		chron = *in.Chronology
	}
	for i, n := range in.Enumeration {
		if n < 1 {
			return nil, errs.Field(fmt.Sprintf("enumeration[%d]", i), "invalid_enumeration", "numbers start at 1")
		}
	}
	iss := &Issue{TenantID: sub.TenantID, ID: tenants.NewID(), SubscriptionID: sub.ID, Kind: in.Kind, Label: in.Label,
		Enumeration: Ints(in.Enumeration), Chronology: ChronJSON(chron), ExpectedOn: expected.Format(time.DateOnly),
		Status: IssueExpected, Note: in.Note}
	if iss.Enumeration == nil {
		iss.Enumeration = Ints{}
	}
	if err := db.Omit("Details").Create(iss).Error; err != nil {
		return nil, fmt.Errorf("add issue: %w", err)
	}
	if in.Received != nil && !*in.Received {
		return &ReceiveResult{Issue: iss.fill()}, nil
	}
	return s.receive(ctx, iss.fill(), sub, ReceiveInput{Barcode: in.Barcode})
}

package circulation

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/catalog"
	"github.com/stacks-ils/stacks/api/circulation/policy"
	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/notices"
	"github.com/stacks-ils/stacks/api/patrons"
	"github.com/stacks-ils/stacks/api/tz"
	"github.com/stacks-ils/stacks/tenants"
)

// holdSelect reads holds with their queue position: 1 + the open holds on
// the same title requested earlier (waiting and travelling ones count as
// ahead).
const holdSelect = `SELECT h.*, b.title,
  (SELECT count(*) FROM holds o WHERE o.bib_id = h.bib_id AND o.status IN ('pending', 'in_transit', 'waiting')
     AND (o.requested_at, o.id) < (h.requested_at, h.id)) + 1 AS position
FROM holds h JOIN bibs b ON b.id = h.bib_id`

// GetHold loads one hold.
func (s *Service) GetHold(ctx context.Context, id uuid.UUID) (*Hold, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	var hs []Hold
	if err := db.Raw(holdSelect+" WHERE h.id = ?", id).Scan(&hs).Error; err != nil {
		return nil, fmt.Errorf("get hold: %w", err)
	}
	if len(hs) == 0 {
		return nil, errs.NotFoundf("no hold with this id")
	}
	h := hs[0].fill()
	if !h.open() {
		h.Position = 0
	}
	return h, nil
}

// trappedHold is the open hold an item is set aside for (on the hold shelf
// or travelling to it), locked; nil when none.
func (s *Service) trappedHold(ctx context.Context, itemID uuid.UUID) (*Hold, error) {
	db, _ := tenants.DB(ctx)
	var hs []Hold
	if err := db.Raw("SELECT * FROM holds WHERE trapped_item_id = ? AND status IN ('in_transit', 'waiting') FOR UPDATE", itemID).
		Scan(&hs).Error; err != nil {
		return nil, fmt.Errorf("trapped hold: %w", err)
	}
	if len(hs) == 0 {
		return nil, nil
	}
	return hs[0].fill(), nil
}

// nextHold is the oldest pending hold this item can fill on day (local
// date): an item-level hold on it, or a title-level hold on its bib, not
// suspended, still wanted, whose patron is active. Locked.
func (s *Service) nextHold(ctx context.Context, item *catalog.Item, day string) (*Hold, error) {
	db, _ := tenants.DB(ctx)
	var hs []Hold
	err := db.Raw(`SELECT h.* FROM holds h JOIN patrons p ON p.id = h.patron_id
WHERE h.status = 'pending' AND p.status = 'active'
  AND (h.item_id = ? OR (h.item_id IS NULL AND h.bib_id = ?))
  AND (h.suspended_until IS NULL OR h.suspended_until <= ?)
  AND (h.not_needed_after IS NULL OR h.not_needed_after >= ?)
ORDER BY h.requested_at, h.id LIMIT 1 FOR UPDATE OF h`, item.ID, item.BibID, day, day).Scan(&hs).Error
	if err != nil {
		return nil, fmt.Errorf("next hold: %w", err)
	}
	if len(hs) == 0 {
		return nil, nil
	}
	return hs[0].fill(), nil
}

// trapOnShelf puts item on the pickup branch's hold shelf for h and starts
// the pickup deadline.
func (s *Service) trapOnShelf(ctx context.Context, h *Hold, item *catalog.Item, at time.Time) error {
	db, _ := tenants.DB(ctx)
	b, err := s.tenants.GetBranch(ctx, h.PickupBranchID)
	if err != nil {
		return err
	}
	p, err := s.patrons.Get(ctx, h.PatronID)
	if err != nil {
		return err
	}
	rule, cal, err := s.policy.DeskPolicy(ctx, policy.RuleRef{Subject: policy.Subject{BranchID: b.ID, BranchPath: b.Path,
		PatronCategory: p.Category, ItemType: item.ItemType}}, b, at, at)
	if err != nil {
		return err
	}
	expires := cal.ShelfExpiresAt(rule, at)
	if err := db.Exec(`UPDATE holds SET status = 'waiting', trapped_item_id = ?, trapped_at = ?, shelf_expires_at = ? WHERE id = ?`,
		item.ID, at, expires, h.ID).Error; err != nil {
		return fmt.Errorf("trap hold: %w", err)
	}
	h.Status, h.TrappedItemID, h.TrappedAt, h.ShelfExpiresAt = HoldWaiting, &item.ID, &at, &expires
	return s.notifyHoldAvailable(ctx, h, p, b, cal.Location(), expires)
}

// notifyHoldAvailable queues the hold-available notice in the trap's own
// transaction (one per hold and trap: a re-trap after a cancel is a new
// notice, a repeated scan is not).
func (s *Service) notifyHoldAvailable(ctx context.Context, h *Hold, p *patrons.Patron, b *tenants.Branch, loc *time.Location, expires time.Time) error {
	if s.notices == nil {
		return nil
	}
	db, _ := tenants.DB(ctx)
	var lib struct{ Name, Title string }
	if err := db.Raw(`SELECT (SELECT name FROM tenants WHERE id = app.current_tenant_id()) AS name,
  (SELECT title FROM bibs WHERE id = ?) AS title`, h.BibID).Scan(&lib).Error; err != nil {
		return fmt.Errorf("hold notice: %w", err)
	}
	_, err := s.notices.Queue(ctx, notices.Draft{PatronID: p.ID, Kind: notices.KindHoldAvailable,
		DedupeKey: h.ID.String() + "/" + h.TrappedAt.UTC().Format(time.RFC3339), Channel: p.NoticeChannel, To: p.Email,
		Data: notices.Data{Library: lib.Name, Date: expires.In(loc).Format(time.DateOnly),
			Patron: notices.PatronData{FirstName: p.FirstName, LastName: p.LastName, CardNumber: p.CardNumber,
				Name: strings.TrimSpace(p.FirstName + " " + p.LastName)},
			Hold: &notices.HoldData{Title: lib.Title, Branch: b.Name, BranchPhone: b.Phone,
				PickupBy: expires.In(loc).Format("Monday 2 January 2006")}},
		Details: map[string]any{"hold_id": h.ID, "bib_id": h.BibID, "pickup_branch_id": b.ID, "pickup_by": expires}})
	return err
}

// closeHold ends a hold (fulfilled, canceled or expired).
func (s *Service) closeHold(ctx context.Context, h *Hold, status, reason string, at time.Time) error {
	db, _ := tenants.DB(ctx)
	if err := db.Exec("UPDATE holds SET status = ?, closed_at = ?, cancel_reason = ? WHERE id = ?", status, at, reason, h.ID).Error; err != nil {
		return fmt.Errorf("close hold: %w", err)
	}
	h.Status, h.ClosedAt, h.CancelReason = status, &at, reason
	return nil
}

// HoldInput is the body of POST /holds.
type HoldInput struct {
	PatronID       uuid.UUID  `json:"patron_id"`
	BibID          *uuid.UUID `json:"bib_id"`
	ItemID         *uuid.UUID `json:"item_id"`
	PickupBranchID uuid.UUID  `json:"pickup_branch_id"`
	NotNeededAfter *string    `json:"not_needed_after"`
	SuspendedUntil *string    `json:"suspended_until"`
	Override       *Override  `json:"override"`
}

func parseDay(field string, v *string) (*string, error) {
	if v == nil || *v == "" {
		return nil, nil
	}
	if _, err := time.Parse(time.DateOnly, *v); err != nil {
		return nil, errs.Field(field, "invalid_date", field+" must be a date YYYY-MM-DD")
	}
	return v, nil
}

// PlaceHold queues a hold for a title or one copy.
func (s *Service) PlaceHold(ctx context.Context, in HoldInput) (*Hold, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	if in.PatronID == uuid.Nil {
		return nil, errs.Field("patron_id", "required", "patron_id is required")
	}
	if (in.BibID == nil) == (in.ItemID == nil) {
		return nil, errs.Field("bib_id", "bib_or_item", "send bib_id (any copy of a title) or item_id (this copy), not both")
	}
	nna, err := parseDay("not_needed_after", in.NotNeededAfter)
	if err != nil {
		return nil, err
	}
	susp, err := parseDay("suspended_until", in.SuspendedUntil)
	if err != nil {
		return nil, err
	}
	pickup, err := s.tenants.GetBranch(ctx, in.PickupBranchID)
	if err != nil {
		if errs.KindOf(err) == errs.NotFound {
			return nil, errs.Field("pickup_branch_id", "invalid_branch", "pickup_branch_id names no branch of this library")
		}
		return nil, err
	}
	if err := checkPickup(pickup); err != nil {
		return nil, err
	}
	pr := tenants.PrincipalFrom(ctx)
	if pr == nil || !pr.Has(tenants.PermCirculate) {
		return nil, errs.E(errs.Forbidden, "forbidden", "your role may not place holds")
	}
	var bibID uuid.UUID
	itemType := ""
	if in.ItemID != nil {
		it, err := s.catalog.GetItem(ctx, *in.ItemID)
		if err != nil {
			if errs.KindOf(err) == errs.NotFound {
				return nil, errs.Field("item_id", "item_not_found", "item_id names no item of this library")
			}
			return nil, err
		}
		bibID, itemType = it.BibID, it.ItemType
		if ok, err := itemLoanable(ctx, db, it.ItemType); err != nil {
			return nil, err
		} else if !ok {
			return nil, errs.E(errs.Invalid, "item_not_loanable", "Items of type "+it.ItemType+" are for use in the library only; they cannot be held.")
		}
	} else {
		bibID = *in.BibID
		var found []struct {
			ID       uuid.UUID
			ItemType *string
		}
		// The title's most common loanable item type chooses the rule.
		if err := db.Raw(`SELECT b.id, (SELECT i.item_type FROM items i LEFT JOIN item_types t ON t.code = i.item_type
  WHERE i.bib_id = b.id AND i.status <> 'withdrawn' AND COALESCE(t.loanable, true)
  GROUP BY i.item_type ORDER BY count(*) DESC, i.item_type LIMIT 1) AS item_type FROM bibs b WHERE b.id = ?`, bibID).
			Scan(&found).Error; err != nil {
			return nil, fmt.Errorf("hold bib: %w", err)
		}
		if len(found) == 0 {
			return nil, errs.Field("bib_id", "bib_not_found", "bib_id names no record of this library")
		}
		if found[0].ItemType != nil {
			itemType = *found[0].ItemType
		} else {
			var n int
			db.Raw("SELECT count(*) FROM items WHERE bib_id = ? AND status <> 'withdrawn'", bibID).Scan(&n)
			if n > 0 {
				return nil, errs.E(errs.Invalid, "item_not_loanable", "No copy of this title can be lent, so it cannot be held.")
			}
			itemType = "book" // on order: no copies yet
		}
	}
	loc := tz.OrUTC(pickup.EffectiveTimezone)
	now := s.now()
	dp, err := s.lockPatron(ctx, "", &in.PatronID, now.In(loc).Format(time.DateOnly))
	if err != nil {
		return nil, err
	}
	p, cat := dp.Patron, dp.Category
	st, err := s.Standing(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	refusals := refusalsOf(dp.Blocks(st))
	rule, err := s.policy.Resolve(ctx, policy.Subject{BranchID: pickup.ID, BranchPath: pickup.Path, PatronCategory: p.Category, ItemType: itemType})
	if err != nil {
		return nil, err
	}
	if !rule.HoldsAllowed {
		refusals = append(refusals, refusal{kind: errs.Invalid, code: "holds_not_allowed", overridable: true,
			msg: "Holds are not allowed on " + itemType + " items for " + p.Category + " patrons.", details: map[string]any{"rule_id": rule.ID}})
	}
	if cat != nil && cat.MaxHolds != nil && st.Holds >= *cat.MaxHolds {
		refusals = append(refusals, refusal{kind: errs.Conflict, code: "hold_limit_reached", overridable: true,
			msg: fmt.Sprintf("The patron has %d holds; the limit is %d.", st.Holds, *cat.MaxHolds), details: map[string]any{"limit": *cat.MaxHolds}})
	} else if rule.MaxHolds != nil && st.Holds >= *rule.MaxHolds {
		refusals = append(refusals, refusal{kind: errs.Conflict, code: "hold_limit_reached", overridable: true,
			msg: fmt.Sprintf("The patron has %d holds; the limit is %d.", st.Holds, *rule.MaxHolds), details: map[string]any{"limit": *rule.MaxHolds, "rule_id": rule.ID}})
	}
	var dup []uuid.UUID
	if err := db.Raw("SELECT id FROM holds WHERE patron_id = ? AND bib_id = ? AND status IN ('pending', 'in_transit', 'waiting') LIMIT 1",
		p.ID, bibID).Scan(&dup).Error; err != nil {
		return nil, fmt.Errorf("duplicate hold: %w", err)
	}
	if len(dup) > 0 {
		return nil, errs.E(errs.Conflict, "hold_exists", "The patron already has a hold on this title.").WithDetails(map[string]any{"hold_id": dup[0]})
	}
	var onLoan int
	if err := db.Raw("SELECT count(*) FROM loans WHERE patron_id = ? AND bib_id = ? AND status = 'active'", p.ID, bibID).Scan(&onLoan).Error; err != nil {
		return nil, fmt.Errorf("loans of the title: %w", err)
	}
	if onLoan > 0 {
		refusals = append(refusals, refusal{kind: errs.Conflict, code: "already_on_loan", overridable: true,
			msg: "The patron already has this title checked out."})
	}
	forced, err := decide(ctx, refusals, in.Override)
	if err != nil {
		return nil, err
	}
	h := &Hold{ID: tenants.NewID(), PatronID: p.ID, BibID: bibID, ItemID: in.ItemID, PickupBranchID: pickup.ID,
		Status: HoldPending, RequestedAt: now, NotNeededAfter: nna, SuspendedUntil: susp}
	h.TenantID, _ = tenants.CurrentTenant(ctx)
	if pr.UserID != uuid.Nil {
		h.CreatedBy = &pr.UserID
	}
	if err := db.Omit("Position", "Title").Create(h).Error; err != nil {
		return nil, fmt.Errorf("insert hold: %w", err)
	}
	reason := ""
	if in.Override != nil {
		reason = in.Override.Reason
	}
	if err := s.audit(ctx, auditEntry{Action: "hold_place", BranchID: &pickup.ID, PatronID: &p.ID, ItemID: in.ItemID, HoldID: &h.ID,
		OverrideCodes: forced, OverrideReason: reason, Details: map[string]any{"bib_id": bibID}}); err != nil {
		return nil, err
	}
	return s.GetHold(ctx, h.ID)
}

// HoldChange is the body of PATCH /holds/{id}.
type HoldChange struct {
	PickupBranchID *uuid.UUID `json:"pickup_branch_id"`
	NotNeededAfter *string    `json:"not_needed_after"` // "" clears
	SuspendedUntil *string    `json:"suspended_until"`  // "" resumes
}

func (s *Service) lockOpenHold(ctx context.Context, id uuid.UUID) (*Hold, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	var hs []Hold
	if err := db.Raw("SELECT * FROM holds WHERE id = ? FOR UPDATE", id).Scan(&hs).Error; err != nil {
		return nil, fmt.Errorf("lock hold: %w", err)
	}
	if len(hs) == 0 {
		return nil, errs.NotFoundf("no hold with this id")
	}
	h := hs[0].fill()
	if !h.open() {
		return nil, errs.E(errs.Conflict, "hold_closed", "This hold is "+h.Status+"; it cannot be changed.")
	}
	return h, nil
}

// UpdateHold changes a hold's pickup branch, end date or suspension.
func (s *Service) UpdateHold(ctx context.Context, id uuid.UUID, in HoldChange) (*Hold, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	h, err := s.lockOpenHold(ctx, id)
	if err != nil {
		return nil, err
	}
	set := map[string]any{}
	if in.PickupBranchID != nil && *in.PickupBranchID != h.PickupBranchID {
		if h.Status != HoldPending {
			return nil, errs.E(errs.Conflict, "hold_trapped", "A copy is already set aside for this hold; cancel it or pick it up where it is.")
		}
		b, err := s.tenants.GetBranch(ctx, *in.PickupBranchID)
		if err != nil {
			if errs.KindOf(err) == errs.NotFound {
				return nil, errs.Field("pickup_branch_id", "invalid_branch", "pickup_branch_id names no branch of this library")
			}
			return nil, err
		}
		if err := checkPickup(b); err != nil {
			return nil, err
		}
		set["pickup_branch_id"] = b.ID
	}
	if in.NotNeededAfter != nil {
		d, err := parseDay("not_needed_after", in.NotNeededAfter)
		if err != nil {
			return nil, err
		}
		set["not_needed_after"] = d
	}
	if in.SuspendedUntil != nil {
		if *in.SuspendedUntil != "" && h.Status != HoldPending {
			return nil, errs.E(errs.Conflict, "hold_trapped", "A copy is already set aside for this hold; it cannot be suspended now.")
		}
		d, err := parseDay("suspended_until", in.SuspendedUntil)
		if err != nil {
			return nil, err
		}
		set["suspended_until"] = d
	}
	if len(set) > 0 {
		if err := db.Table("holds").Where("id = ?", id).Updates(set).Error; err != nil {
			return nil, fmt.Errorf("update hold: %w", err)
		}
		if err := s.audit(ctx, auditEntry{Action: "hold_update", PatronID: &h.PatronID, HoldID: &h.ID, Details: set}); err != nil {
			return nil, err
		}
	}
	return s.GetHold(ctx, id)
}

// CancelHold cancels an open hold. A copy already set aside for it is
// released: it may be lent at once, and the next checkin scan routes it to
// the next hold or back to its shelf (a copy in transit is rerouted on
// arrival).
func (s *Service) CancelHold(ctx context.Context, id uuid.UUID, reason string) (*Hold, error) {
	h, err := s.lockOpenHold(ctx, id)
	if err != nil {
		return nil, err
	}
	if reason = strings.TrimSpace(reason); reason == "" {
		reason = "canceled"
	}
	if err := s.closeHold(ctx, h, HoldCanceled, reason, s.now()); err != nil {
		return nil, err
	}
	if err := s.audit(ctx, auditEntry{Action: "hold_cancel", PatronID: &h.PatronID, HoldID: &h.ID, ItemID: h.TrappedItemID,
		Details: map[string]any{"reason": reason}}); err != nil {
		return nil, err
	}
	return s.GetHold(ctx, id)
}

// HoldFilter narrows ListHolds.
type HoldFilter struct {
	PatronID *uuid.UUID
	BibID    *uuid.UUID
	BranchID *uuid.UUID // pickup branch
	Status   string     // a status, or "open"
	After    uuid.UUID
	Limit    int
}

// ListHolds lists holds in id order (Limit+1 rows at most).
func (s *Service) ListHolds(ctx context.Context, f HoldFilter) ([]Hold, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	q := holdSelect + " WHERE h.id > @after"
	args := map[string]any{"after": f.After, "limit": f.Limit + 1}
	if f.PatronID != nil {
		q += " AND h.patron_id = @patron"
		args["patron"] = *f.PatronID
	}
	if f.BibID != nil {
		q += " AND h.bib_id = @bib"
		args["bib"] = *f.BibID
	}
	if f.BranchID != nil {
		q += " AND h.pickup_branch_id = @branch"
		args["branch"] = *f.BranchID
	}
	switch f.Status {
	case "":
	case "open":
		q += " AND h.status IN ('pending', 'in_transit', 'waiting')"
	default:
		q += " AND h.status = @status"
		args["status"] = f.Status
	}
	q += " ORDER BY h.id LIMIT @limit"
	var hs []Hold
	if err := db.Raw(q, args).Scan(&hs).Error; err != nil {
		return nil, fmt.Errorf("list holds: %w", err)
	}
	for i := range hs {
		hs[i].fill()
		if !hs[i].open() {
			hs[i].Position = 0
		}
	}
	return hs, nil
}

// PullItem is one line of the pull list: a copy on this branch's shelves
// that a pending hold can take.
type PullItem struct {
	HoldID         uuid.UUID `json:"hold_id"`
	PatronID       uuid.UUID `json:"patron_id"`
	PickupBranchID uuid.UUID `json:"pickup_branch_id"`
	RequestedAt    time.Time `json:"requested_at"`
	BibID          uuid.UUID `json:"bib_id"`
	Title          string    `json:"title"`
	ItemID         uuid.UUID `json:"item_id"`
	Barcode        string    `json:"barcode"`
	CallNumber     string    `json:"call_number"`
	Location       string    `json:"location"`
	CallNumberSort string    `json:"-"`
}

// PullList lists, for each pending hold that a copy available at branch can
// fill, one such copy, in shelf order. Holds that any pickup branch wants
// appear at every branch holding a copy; the first branch to check one in
// traps it.
func (s *Service) PullList(ctx context.Context, branchID uuid.UUID) ([]PullItem, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	b, err := s.tenants.GetBranch(ctx, branchID)
	if err != nil {
		if errs.KindOf(err) == errs.NotFound {
			return nil, errs.Field("branch_id", "invalid_branch", "branch_id names no branch of this library")
		}
		return nil, err
	}
	today := s.now().In(tz.OrUTC(b.EffectiveTimezone)).Format(time.DateOnly)
	var out []PullItem
	err = db.Raw(`SELECT DISTINCT ON (h.id) h.id AS hold_id, h.patron_id, h.pickup_branch_id, h.requested_at, h.bib_id, b.title,
  i.id AS item_id, i.barcode, i.call_number, i.location, i.call_number_sort
FROM holds h
JOIN patrons p ON p.id = h.patron_id AND p.status = 'active'
JOIN bibs b ON b.id = h.bib_id
JOIN items i ON i.bib_id = h.bib_id AND (h.item_id IS NULL OR i.id = h.item_id)
LEFT JOIN item_types t ON t.code = i.item_type
WHERE h.status = 'pending' AND i.branch_id = ? AND i.status = 'available' AND COALESCE(t.loanable, true)
  AND (h.suspended_until IS NULL OR h.suspended_until <= ?) AND (h.not_needed_after IS NULL OR h.not_needed_after >= ?)
ORDER BY h.id, i.call_number_sort, i.barcode`, branchID, today, today).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("pull list: %w", err)
	}
	// Shelf order for the person walking the stacks.
	slices.SortStableFunc(out, func(a, b PullItem) int {
		return cmp.Or(cmp.Compare(a.CallNumberSort, b.CallNumberSort), cmp.Compare(a.Barcode, b.Barcode))
	})
	return out, nil
}

// ExpireHolds closes holds past their not-needed-after date and holds
// whose pickup deadline passed (their copies are released for the next
// checkin). It returns how many holds it expired. The workers run it daily.
func (s *Service) ExpireHolds(ctx context.Context) (int, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return 0, err
	}
	now := s.now()
	// Copies whose pickup deadline passed: locked first (the desk's lock
	// order is item, then holds), to be offered to the next hold below.
	var shelved []uuid.UUID
	if err := db.Raw(`SELECT trapped_item_id FROM holds WHERE status = 'waiting' AND shelf_expires_at < ?
  AND trapped_item_id IS NOT NULL ORDER BY trapped_item_id`, now).Scan(&shelved).Error; err != nil {
		return 0, fmt.Errorf("expiring holds: %w", err)
	}
	items := map[uuid.UUID]*catalog.Item{}
	for _, id := range shelved {
		it, err := s.catalog.LockItem(ctx, "", id)
		if err != nil {
			return 0, err
		}
		items[id] = it
	}
	var expired []Hold
	err = db.Raw(`UPDATE holds h SET status = 'expired', closed_at = @now,
  cancel_reason = CASE WHEN h.status = 'waiting' THEN 'not picked up in time' ELSE 'no longer needed' END
FROM branches b JOIN tenants t ON t.id = b.tenant_id
WHERE b.id = h.pickup_branch_id AND (
  (h.status = 'waiting' AND h.shelf_expires_at < @now) OR
  (h.status = 'pending' AND h.not_needed_after < (CAST(@now AS timestamptz) AT TIME ZONE t.timezone)::date))
RETURNING h.*`, map[string]any{"now": now}).Scan(&expired).Error
	if err != nil {
		return 0, fmt.Errorf("expire holds: %w", err)
	}
	for _, h := range expired {
		if err := s.audit(ctx, auditEntry{Action: "hold_expire", PatronID: &h.PatronID, HoldID: &h.ID, ItemID: h.TrappedItemID,
			Details: map[string]any{"reason": h.CancelReason}}); err != nil {
			return 0, err
		}
		// The copy on the shelf goes to the next hold that picks up at the
		// same branch (it stays where it is, with a new deadline and a
		// notice); otherwise it waits for the next checkin scan, which
		// routes it to another branch's hold or home.
		it := items[ptrOr(h.TrappedItemID)]
		if it == nil {
			continue
		}
		b, err := s.tenants.GetBranch(ctx, h.PickupBranchID)
		if err != nil {
			return 0, err
		}
		next, err := s.nextHold(ctx, it, now.In(tz.OrUTC(b.EffectiveTimezone)).Format(time.DateOnly))
		if err != nil {
			return 0, err
		}
		if next != nil && next.PickupBranchID == h.PickupBranchID {
			if err := s.trapOnShelf(ctx, next, it, now); err != nil {
				return 0, err
			}
		}
	}
	if err := s.notifyHoldsExpired(ctx, expired); err != nil {
		return 0, err
	}
	return len(expired), nil
}

func ptrOr(id *uuid.UUID) uuid.UUID {
	if id == nil {
		return uuid.Nil
	}
	return *id
}

// notifyHoldsExpired queues a notice per expired hold, in the expiry's
// transaction.
func (s *Service) notifyHoldsExpired(ctx context.Context, expired []Hold) error {
	if s.notices == nil || len(expired) == 0 {
		return nil
	}
	db, _ := tenants.DB(ctx)
	ids := make([]uuid.UUID, len(expired))
	reasons := map[uuid.UUID]string{}
	for i, h := range expired {
		ids[i], reasons[h.ID] = h.ID, h.CancelReason
	}
	var rows []struct {
		HoldID, PatronID                                 uuid.UUID
		FirstName, LastName, Email, NoticeChannel, Title string
		Library                                          string
	}
	if err := db.Raw(`SELECT h.id AS hold_id, p.id AS patron_id, p.first_name, p.last_name, p.email, p.notice_channel, b.title,
  (SELECT name FROM tenants WHERE id = app.current_tenant_id()) AS library
FROM holds h JOIN patrons p ON p.id = h.patron_id JOIN bibs b ON b.id = h.bib_id WHERE h.id = ANY(?)`, tenants.UUIDs(ids)).
		Scan(&rows).Error; err != nil {
		return fmt.Errorf("expired holds' patrons: %w", err)
	}
	for _, r := range rows {
		if _, err := s.notices.Queue(ctx, notices.Draft{PatronID: r.PatronID, Kind: notices.KindHoldExpired, DedupeKey: r.HoldID.String(),
			Channel: r.NoticeChannel, To: r.Email,
			Data: notices.Data{Library: r.Library, Patron: notices.PatronData{FirstName: r.FirstName, LastName: r.LastName,
				Name: strings.TrimSpace(r.FirstName + " " + r.LastName)},
				Hold: &notices.HoldData{Title: r.Title, Reason: reasons[r.HoldID]}},
			Details: map[string]any{"hold_id": r.HoldID, "reason": reasons[r.HoldID]}}); err != nil {
			return err
		}
	}
	return nil
}

// checkPickup accepts a service point as a pickup place: a branch, or the
// library itself when it has no branches below it.
func checkPickup(b *tenants.Branch) error {
	if b.Kind != tenants.KindBranch && b.ParentID != nil {
		return errs.Field("pickup_branch_id", "invalid_pickup_branch", "pick up at a branch, not at "+b.Name)
	}
	return nil
}

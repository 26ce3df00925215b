package circulation

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/notices"
	"github.com/stacks-ils/stacks/tenants"
)

// AutoRenew renews the loans whose rule allows auto-renewal and that fall
// due within the next day, as a renewal at the desk would (holds waiting,
// renewals left, blocks and the no-renewal-before window all apply), and
// tells each patron what was renewed and what could not be. It returns how
// many loans it renewed. The workers run it nightly; a loan renewed tonight
// is not due within a day again, so a second run renews nothing.
func (s *Service) AutoRenew(ctx context.Context) (int, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return 0, err
	}
	now := s.now()
	var due []struct {
		ID, ItemID, BranchID, PatronID uuid.UUID
		Title, Barcode                 string
		DueAt                          time.Time
	}
	if err := db.Raw(`SELECT l.id, l.item_id, l.branch_id, l.patron_id, b.title, i.barcode, l.due_at
FROM loans l JOIN circ_rules r ON r.id = l.rule_id JOIN items i ON i.id = l.item_id JOIN bibs b ON b.id = l.bib_id
WHERE l.status = 'active' AND r.auto_renew AND l.patron_id IS NOT NULL AND l.due_at >= ? AND l.due_at < ?
ORDER BY l.patron_id, l.due_at`, now, now.Add(24*time.Hour)).Scan(&due).Error; err != nil {
		return 0, fmt.Errorf("loans to auto-renew: %w", err)
	}
	renewed := 0
	byPatron := map[uuid.UUID][]notices.ItemData{}
	var order []uuid.UUID
	for _, l := range due {
		d, err := s.openDesk(ctx, l.BranchID, nil, "at")
		if err != nil {
			return renewed, err
		}
		item, err := s.catalog.LockItem(ctx, "", l.ItemID)
		if err != nil {
			return renewed, err
		}
		res, err := s.renew(ctx, db, d, item, l.ID, nil)
		line := notices.ItemData{Title: l.Title, Barcode: l.Barcode}
		var e *errs.Error
		switch {
		case err == nil:
			renewed++
			line.Due, line.CanRenew = res.Loan.DueAt.In(d.loc).Format("Mon 2 Jan 2006"), true
			line.Note = "renewed"
		case errors.As(err, &e) && e.Kind != errs.Internal:
			line.Due, line.Note = l.DueAt.In(d.loc).Format("Mon 2 Jan 2006"), "not renewed: "+strings.TrimSuffix(e.Message, ".")
		default:
			return renewed, err
		}
		if _, ok := byPatron[l.PatronID]; !ok {
			order = append(order, l.PatronID)
		}
		byPatron[l.PatronID] = append(byPatron[l.PatronID], line)
	}
	if s.notices == nil {
		return renewed, nil
	}
	var lib string
	if err := db.Raw("SELECT name FROM tenants WHERE id = app.current_tenant_id()").Scan(&lib).Error; err != nil {
		return renewed, fmt.Errorf("library name: %w", err)
	}
	for _, pid := range order {
		p, err := s.patrons.Get(ctx, pid)
		if err != nil {
			return renewed, err
		}
		date := now.Format(time.DateOnly)
		if _, err := s.notices.Queue(ctx, notices.Draft{PatronID: pid, Kind: notices.KindAutoRenewal, DedupeKey: date,
			Channel: p.NoticeChannel, To: p.Email, Data: notices.Data{Library: lib, Date: date, Items: byPatron[pid],
				Patron: notices.PatronData{FirstName: p.FirstName, LastName: p.LastName, CardNumber: p.CardNumber,
					Name: strings.TrimSpace(p.FirstName + " " + p.LastName)}}}); err != nil {
			return renewed, err
		}
	}
	return renewed, nil
}

// AgeToLost marks loans lost_after_days past due as lost and bills them
// (replacement cost and processing fee, as MarkLost does at the desk). It
// returns how many loans it marked; without the setting it does nothing.
func (s *Service) AgeToLost(ctx context.Context) (int, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return 0, err
	}
	settings, err := s.GetSettings(ctx)
	if err != nil || settings.LostAfterDays == nil {
		return 0, err
	}
	var ids []uuid.UUID
	if err := db.Raw(`SELECT id FROM loans WHERE status = 'active' AND patron_id IS NOT NULL AND due_at < ? ORDER BY due_at`,
		s.now().AddDate(0, 0, -*settings.LostAfterDays)).Scan(&ids).Error; err != nil {
		return 0, fmt.Errorf("loans to age to lost: %w", err)
	}
	for _, id := range ids {
		if _, err := s.MarkLost(ctx, id, fmt.Sprintf("(%d days overdue)", *settings.LostAfterDays)); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

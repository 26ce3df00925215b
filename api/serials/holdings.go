package serials

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/serials/pattern"
	"github.com/stacks-ils/stacks/tenants"
)

// Holdings gives the holdings statements of serial records for the
// catalogue (record view and search hits): per subscription with received
// issues, "Branch, location: v.12 (2027); lacks v.12 no.4", in subscription
// order. Two queries whatever the number of records.
func (s *Service) Holdings(ctx context.Context, bibIDs []uuid.UUID) (map[uuid.UUID][]string, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	var subs []struct {
		Subscription
		BranchName string
	}
	if err := db.Raw(`SELECT s.*, br.name AS branch_name FROM subscriptions s
		JOIN branches br ON br.tenant_id = s.tenant_id AND br.id = s.branch_id
		WHERE s.bib_id IN ? ORDER BY s.bib_id, s.id`, bibIDs).Scan(&subs).Error; err != nil {
		return nil, fmt.Errorf("subscriptions of records: %w", err)
	}
	if len(subs) == 0 {
		return map[uuid.UUID][]string{}, nil
	}
	ids := make([]uuid.UUID, len(subs))
	for i := range subs {
		ids[i] = subs[i].ID
	}
	var issues []Issue
	if err := db.Where("subscription_id IN ? AND kind = 'regular'", ids).Order("subscription_id, expected_on, seq").Find(&issues).Error; err != nil {
		return nil, fmt.Errorf("issues for holdings: %w", err)
	}
	bySub := map[uuid.UUID][]pattern.Holding{}
	levels := map[uuid.UUID]int{}
	for i := range subs {
		levels[subs[i].ID] = len(subs[i].Pattern.Levels)
	}
	for i := range issues {
		if len(issues[i].Enumeration) == levels[issues[i].SubscriptionID] {
			bySub[issues[i].SubscriptionID] = append(bySub[issues[i].SubscriptionID], issues[i].holding())
		}
	}
	out := map[uuid.UUID][]string{}
	for _, sub := range subs {
		p := pattern.Pattern(sub.Pattern)
		sum := pattern.Summarize(&p, bySub[sub.ID])
		if sum == "" {
			continue
		}
		where := sub.BranchName
		if sub.Location != "" {
			where += ", " + sub.Location
		}
		out[sub.BibID] = append(out[sub.BibID], where+": "+sum)
	}
	return out, nil
}

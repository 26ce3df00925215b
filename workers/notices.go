package workers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/notices"
	"github.com/stacks-ils/stacks/tenants"
)

// TypeNoticeSend delivers one notice from the outbox.
const TypeNoticeSend = "notices:send"

// noticeMaxRetry bounds delivery attempts; asynq backs off between them
// (seconds, then minutes, then hours), so a mail server that is down for a
// while does not lose notices.
const noticeMaxRetry = 8

type noticePayload struct {
	TenantID uuid.UUID `json:"tenant_id"`
	NoticeID uuid.UUID `json:"notice_id"`
}

// EnqueueNotice queues the delivery of a committed notice (it implements
// notices.Enqueuer). The task id is the notice's: while one delivery is
// queued or running a second is refused, so two sends never race; once it
// is done (completed tasks are not kept) a resend can queue another.
func (c *Client) EnqueueNotice(ctx context.Context, tenantID, noticeID uuid.UUID) error {
	payload, _ := json.Marshal(noticePayload{TenantID: tenantID, NoticeID: noticeID})
	id := TypeNoticeSend + ":" + noticeID.String()
	enqueue := func() error {
		_, err := c.c.EnqueueContext(ctx, asynq.NewTask(TypeNoticeSend, payload), asynq.Queue("notices"),
			asynq.TaskID(id), asynq.MaxRetry(noticeMaxRetry), asynq.Timeout(time.Minute))
		return err
	}
	err := enqueue()
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		// A delivery that gave up (archived) still holds the id: a resend
		// replaces it. One still queued or running is left to finish.
		info, ierr := c.insp.GetTaskInfo("notices", id)
		if ierr != nil || info.State != asynq.TaskStateArchived {
			return nil
		}
		if err = c.insp.DeleteTask("notices", id); err == nil {
			err = enqueue()
		}
	}
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue notice %s: %w", noticeID, err)
	}
	return nil
}

// SetNotices connects the outbox whose notices this worker delivers.
func (w *Worker) SetNotices(n *notices.Service) *Worker {
	w.notices = n
	return w
}

func (w *Worker) handleNoticeSend(ctx context.Context, t *asynq.Task) error {
	var p noticePayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.TenantID == uuid.Nil || p.NoticeID == uuid.Nil {
		return fmt.Errorf("bad payload %q: %w", t.Payload(), asynq.SkipRetry)
	}
	if w.notices == nil {
		return errors.New("notices outbox not connected")
	}
	select {
	case w.sending <- struct{}{}:
		defer func() { <-w.sending }()
	case <-ctx.Done():
		return ctx.Err()
	}
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	err := w.notices.Deliver(ctx, p.TenantID, p.NoticeID, retried >= maxRetry)
	if errors.Is(err, notices.ErrNoMailer) || errs.KindOf(err) == errs.NotFound {
		// No mail server: the notice stays pending for a resend. No such
		// notice: nothing to retry.
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	return err
}

// Daily notices: every 15 minutes a fan-out enqueues, for each library
// whose local time has reached its send hour, one run per daily kind with
// the id notices:<kind>:<tenant>:<local date>. Two schedulers, a restart or
// POST /notices/run (which uses the same id) never run a kind twice for a
// library and day; the outbox's unique key would drop a second copy anyway.
const (
	TypeNoticesDaily       = "notices:daily"        // fan-out
	TypeNoticesDailyTenant = "notices:daily:tenant" // one library, one kind, one day
)

type dailyPayload struct {
	TenantID uuid.UUID `json:"tenant_id"`
	Kind     string    `json:"kind"`
	Date     string    `json:"date"`
}

func dailyTaskID(tenantID uuid.UUID, kind, date string) string {
	return "notices:" + kind + ":" + tenantID.String() + ":" + date
}

// EnqueueDaily queues one library's run of a daily kind for its local date
// (it implements notices.Enqueuer).
func (c *Client) EnqueueDaily(ctx context.Context, tenantID uuid.UUID, kind, date string) error {
	payload, _ := json.Marshal(dailyPayload{TenantID: tenantID, Kind: kind, Date: date})
	_, err := c.c.EnqueueContext(ctx, asynq.NewTask(TypeNoticesDailyTenant, payload), asynq.Queue("notices"),
		asynq.TaskID(dailyTaskID(tenantID, kind, date)), asynq.Retention(72*time.Hour), asynq.MaxRetry(5),
		asynq.Timeout(30*time.Minute))
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue %s notices for %s: %w", kind, tenantID, err)
	}
	return nil
}

func (w *Worker) handleNoticesDaily(ctx context.Context, _ *asynq.Task) error {
	if w.notices == nil {
		return nil
	}
	enq := &Client{c: w.client}
	return w.eachTenant(ctx, func(t tenants.Tenant, local time.Time) error {
		var hour int
		if err := w.pool.Tx(ctx, t.ID, func(ctx context.Context, _ *gorm.DB) error {
			st, err := w.notices.GetSettings(ctx)
			if err == nil {
				hour = st.SendHour
			}
			return err
		}); err != nil {
			return err
		}
		if local.Hour() < hour {
			return nil
		}
		for _, kind := range notices.DailyKinds {
			if err := enq.EnqueueDaily(ctx, t.ID, kind, local.Format(time.DateOnly)); err != nil {
				return err
			}
		}
		return nil
	})
}

func (w *Worker) handleNoticesDailyTenant(ctx context.Context, t *asynq.Task) error {
	var p dailyPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.TenantID == uuid.Nil {
		return fmt.Errorf("bad payload %q: %w", t.Payload(), asynq.SkipRetry)
	}
	if w.notices == nil {
		return errors.New("notices outbox not connected")
	}
	var n int
	err := w.pool.Tx(ctx, p.TenantID, func(ctx context.Context, _ *gorm.DB) error {
		var err error
		n, err = w.notices.RunDaily(ctx, p.Kind, p.Date)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s notices for %s on %s: %w", p.Kind, p.TenantID, p.Date, err)
	}
	w.log.Info("daily notices queued", "tenant_id", p.TenantID, "kind", p.Kind, "date", p.Date, "notices", n)
	return nil
}

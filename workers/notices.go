package workers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/notices"
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

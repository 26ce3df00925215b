package workers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
)

// importMaxRetry bounds retries of an import; it resumes where it stopped.
const importMaxRetry = 10

type jobPayload struct {
	TenantID uuid.UUID `json:"tenant_id"`
	JobID    uuid.UUID `json:"job_id"`
}

// Client enqueues tasks from the API process.
type Client struct {
	c    *asynq.Client
	insp *asynq.Inspector
	// quantityDelay folds branch changes made close together into one
	// Stripe update (default 5 s).
	quantityDelay time.Duration
}

// SetQuantityDelay changes how long a subscription quantity update waits
// for more branch changes.
func (c *Client) SetQuantityDelay(d time.Duration) *Client {
	c.quantityDelay = d
	return c
}

// NewClient connects an enqueuing client to Redis.
func NewClient(redisOpt asynq.RedisConnOpt) *Client {
	return &Client{c: asynq.NewClient(redisOpt), insp: asynq.NewInspector(redisOpt)}
}

// Close closes the client.
func (c *Client) Close() error {
	c.insp.Close()
	return c.c.Close()
}

// EnqueueImport queues a MARC import job (it implements catalog.Enqueuer).
// The task id is the job id, so enqueuing twice runs the job once.
func (c *Client) EnqueueImport(ctx context.Context, tenantID, jobID uuid.UUID) error {
	payload, _ := json.Marshal(jobPayload{TenantID: tenantID, JobID: jobID})
	_, err := c.c.EnqueueContext(ctx, asynq.NewTask(TypeImportMARC, payload), asynq.Queue("critical"),
		asynq.TaskID(TypeImportMARC+":"+jobID.String()), asynq.MaxRetry(importMaxRetry),
		asynq.Timeout(6*time.Hour), asynq.Retention(24*time.Hour))
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue import %s: %w", jobID, err)
	}
	return nil
}

func (w *Worker) handleImportMARC(ctx context.Context, t *asynq.Task) error {
	var p jobPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.TenantID == uuid.Nil || p.JobID == uuid.Nil {
		return fmt.Errorf("bad payload %q: %w", t.Payload(), asynq.SkipRetry)
	}
	err := w.catalog.RunImportJob(ctx, p.TenantID, p.JobID)
	if err == nil {
		return nil
	}
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	if retried >= maxRetry {
		// Out of retries: say so on the job rather than leave it "running".
		if ferr := w.catalog.FailJob(context.WithoutCancel(ctx), p.TenantID, p.JobID, "the import stopped: "+err.Error()); ferr != nil {
			w.log.Error("mark import failed", "job_id", p.JobID, "error", ferr)
		}
	}
	return err
}

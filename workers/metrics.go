package workers

import (
	"slices"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
)

// QueueCollector reports the task queues in Redis on /metrics: tasks per
// queue and state, and the day's processed and failed counts. Every API
// process can expose it (the queues are shared); it reads Redis at scrape
// time.
type QueueCollector struct {
	insp      *asynq.Inspector
	tasks     *prometheus.Desc
	processed *prometheus.Desc
	failed    *prometheus.Desc
	up        *prometheus.Desc
}

// NewQueueCollector reads the queues on the Redis at redisOpt.
func NewQueueCollector(redisOpt asynq.RedisConnOpt) *QueueCollector {
	return &QueueCollector{
		insp:      asynq.NewInspector(redisOpt),
		tasks:     prometheus.NewDesc("stacks_queue_tasks", "Background tasks by queue and state.", []string{"queue", "state"}, nil),
		processed: prometheus.NewDesc("stacks_queue_processed_today", "Tasks processed today (UTC) by queue, failures included.", []string{"queue"}, nil),
		failed:    prometheus.NewDesc("stacks_queue_failed_today", "Task runs that failed today (UTC) by queue.", []string{"queue"}, nil),
		up:        prometheus.NewDesc("stacks_queue_up", "1 when the queues in Redis could be read.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *QueueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.tasks
	ch <- c.processed
	ch <- c.failed
	ch <- c.up
}

// Collect implements prometheus.Collector.
func (c *QueueCollector) Collect(ch chan<- prometheus.Metric) {
	names, err := c.insp.Queues()
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	for q := range Queues {
		if !slices.Contains(names, q) {
			names = append(names, q) // report empty queues as zeros
		}
	}
	for _, q := range names {
		info, err := c.insp.GetQueueInfo(q)
		if err != nil {
			continue // a queue that does not exist yet has no tasks
		}
		for state, n := range map[string]int{"pending": info.Pending, "active": info.Active, "scheduled": info.Scheduled,
			"retry": info.Retry, "archived": info.Archived, "completed": info.Completed} {
			ch <- prometheus.MustNewConstMetric(c.tasks, prometheus.GaugeValue, float64(n), q, state)
		}
		ch <- prometheus.MustNewConstMetric(c.processed, prometheus.GaugeValue, float64(info.Processed), q)
		ch <- prometheus.MustNewConstMetric(c.failed, prometheus.GaugeValue, float64(info.Failed), q)
	}
}

// Close releases the collector's Redis connection.
func (c *QueueCollector) Close() error { return c.insp.Close() }

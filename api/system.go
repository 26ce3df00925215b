package api

import (
	"context"
	_ "embed"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/httpx"
)

// OpenAPI is the API's OpenAPI 3.1 document, written by hand; a test keeps
// it and the mounted routes in step.
//
//go:embed openapi.json
var OpenAPI []byte

func (s *Server) systemRoutes() []httpx.Route {
	return []httpx.Route{
		{Method: "GET", Path: "/healthz", Public: true, Summary: "Process is up", Handler: s.healthz},
		{Method: "GET", Path: "/readyz", Public: true, Summary: "Postgres and Redis reachable", Handler: s.readyz},
		{Method: "GET", Path: "/metrics", Public: true, Summary: "Prometheus metrics", Handler: s.metricsHandler()},
		{Method: "GET", Path: "/api/openapi.json", Public: true, Summary: "OpenAPI document", Handler: func(c *fiber.Ctx) error {
			c.Set(fiber.HeaderContentType, "application/json")
			c.Set("Cache-Control", "public, max-age=300")
			return c.Send(OpenAPI)
		}},
	}
}

func (s *Server) healthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

// readyz reports whether the dependencies answer, so a load balancer stops
// sending traffic to an instance that cannot serve it.
func (s *Server) readyz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	checks := fiber.Map{"postgres": "ok", "redis": "ok"}
	ok := true
	if err := s.deps.Pool.Ping(ctx); err != nil {
		checks["postgres"], ok = "unreachable", false
		s.deps.Log.Warn("readyz: postgres", "error", err)
	}
	if err := s.deps.Redis.Ping(ctx).Err(); err != nil {
		checks["redis"], ok = "unreachable", false
		s.deps.Log.Warn("readyz: redis", "error", err)
	}
	if !ok {
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable", "checks": checks})
	}
	return c.JSON(fiber.Map{"status": "ok", "checks": checks})
}

func (s *Server) metricsHandler() fiber.Handler {
	h := adaptor.HTTPHandler(promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	return func(c *fiber.Ctx) error {
		if s.cfg.MetricsToken != "" {
			scheme, tok, _ := strings.Cut(c.Get(fiber.HeaderAuthorization), " ")
			if !strings.EqualFold(scheme, "Bearer") || tok != s.cfg.MetricsToken {
				return errs.E(errs.Unauthenticated, "invalid_token", "metrics need the operator's METRICS_TOKEN")
			}
		}
		return h(c)
	}
}

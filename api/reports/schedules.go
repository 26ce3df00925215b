package reports

import "github.com/stacks-ils/stacks/api/httpx"

func (s *Service) scheduleRoutes() []httpx.Route { return nil }

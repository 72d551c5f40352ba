package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/seam"
	"github.com/uptrace/bun"
)

// metrics are the handler's Prometheus collectors.
type metrics struct {
	handler http.Handler

	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	dbTime    *prometheus.HistogramVec
	conns     *prometheus.GaugeVec
	subs      prometheus.Gauge
	delivered *prometheus.CounterVec
	// The delivered counters of the push transports, looked up once.
	deliveredSSE, deliveredWS prometheus.Counter
	resets                    *prometheus.CounterVec
	slowDrops                 *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, gather prometheus.Gatherer, store *taskboard.Board) *metrics {
	if reg == nil {
		r := prometheus.NewRegistry()
		r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		reg, gather = r, r
	}
	if gather == nil {
		gather = prometheus.DefaultGatherer
	}
	m := &metrics{
		handler: promhttp.HandlerFor(gather, promhttp.HandlerOpts{}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskboard_http_requests_total", Help: "HTTP requests by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "taskboard_http_request_duration_seconds", Help: "HTTP request latency by route pattern, method and status.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method", "status"}),
		dbTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "taskboard_db_query_duration_seconds", Help: "Database time per query, by operation.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"operation"}),
		conns: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "taskboard_connections", Help: "Open real-time connections by transport.",
		}, []string{"transport"}),
		subs: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "taskboard_subscriptions", Help: "Open board subscriptions (a connection may follow several boards).",
		}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskboard_deliveries_total", Help: "Events delivered to clients, by transport.",
		}, []string{"transport"}),
		resets: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskboard_resets_total", Help: "Resets sent to clients, by reason.",
		}, []string{"reason"}),
		slowDrops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskboard_slow_consumer_drops_total", Help: "Subscriptions ended because the client fell behind, by transport.",
		}, []string{"transport"}),
	}
	appended := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "taskboard_events_appended_total", Help: "Events appended to board logs by this process.",
	}, func() float64 { return float64(store.Stats().EventsAppended) })
	m.deliveredSSE = m.delivered.WithLabelValues(transportSSE)
	m.deliveredWS = m.delivered.WithLabelValues(transportWebSocket)
	reg.MustRegister(m.requests, m.latency, m.dbTime, m.conns, m.subs, m.delivered, m.resets, m.slowDrops, appended)
	if n, ok := store.Notifier().(interface {
		Stats() taskboard.NotifierStats
	}); ok {
		reg.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "taskboard_listener_reconnects_total", Help: "Times the cross-instance notification listener reconnected.",
			}, func() float64 { return float64(n.Stats().Reconnects) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "taskboard_notifications_received_total", Help: "Notifications received from other instances.",
			}, func() float64 { return float64(n.Stats().Notifications) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "taskboard_notification_lag_seconds_total",
				Help: "Summed delay from an instance's NOTIFY to its receipt here; divide by taskboard_notifications_received_total for the mean.",
			}, func() float64 { return n.Stats().TotalLag.Seconds() }),
		)
	}
	seam.DB(store).AddQueryHook(dbTimer{m.dbTime})
	return m
}

func (m *metrics) serve(w http.ResponseWriter, r *http.Request) { m.handler.ServeHTTP(w, r) }

func (m *metrics) observeRequest(route, method string, status int, d time.Duration) {
	s := strconv.Itoa(status)
	m.requests.WithLabelValues(route, method, s).Inc()
	m.latency.WithLabelValues(route, method, s).Observe(d.Seconds())
}

// dbTimer is a bun query hook that times every query.
type dbTimer struct{ hist *prometheus.HistogramVec }

func (t dbTimer) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context { return ctx }

func (t dbTimer) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	op := e.Operation()
	if op == "" {
		op = "OTHER"
	}
	t.hist.WithLabelValues(strings.ToUpper(op)).Observe(time.Since(e.StartTime).Seconds())
}

package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/taskboard/taskboard"
)

// Metrics are the Prometheus collectors of a Handler: its requests, its
// real-time connections and deliveries, and the database queries of its
// store. Make them with NewMetrics before the store, so that the store
// reports its queries to them, and give them to the Handler:
//
//	m := httpapi.NewMetrics()
//	store, err := taskboard.Open(ctx, dsn, &taskboard.Options{QueryObserver: m.ObserveQuery})
//	...
//	api := httpapi.New(store, &httpapi.Options{Metrics: m})
//
// New registers them with Options.Registerer. A Metrics serves one
// Handler.
type Metrics struct {
	handler http.Handler

	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	dbTime    *prometheus.HistogramVec
	conns     *prometheus.GaugeVec
	subs      prometheus.Gauge
	multi     *prometheus.GaugeVec
	delivered *prometheus.CounterVec
	// The delivered counters of the push transports, looked up once.
	deliveredSSE, deliveredWS prometheus.Counter
	resets                    *prometheus.CounterVec
	slowDrops                 *prometheus.CounterVec
}

// NewMetrics returns a Handler's collectors, not registered yet.
func NewMetrics() *Metrics {
	m := &Metrics{
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
		multi: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "taskboard_multi_board_connections", Help: "Open real-time connections that follow many boards (GET /events and GET /poll with ?boards=, WebSockets that joined *), by transport.",
		}, []string{"transport"}),
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
	m.deliveredSSE = m.delivered.WithLabelValues(transportSSE)
	m.deliveredWS = m.delivered.WithLabelValues(transportWebSocket)
	return m
}

// ObserveQuery records a database query in the
// taskboard_db_query_duration_seconds histogram, by operation. It has the
// signature of taskboard.Options.QueryObserver.
func (m *Metrics) ObserveQuery(operation string, d time.Duration, _ error) {
	m.dbTime.WithLabelValues(operation).Observe(d.Seconds())
}

// register registers m, and the counters read from store, with reg (nil:
// a registry of its own with the Go and process collectors) and serves
// gather (nil: reg's own registry, or prometheus.DefaultGatherer when reg
// is given).
func (m *Metrics) register(reg prometheus.Registerer, gather prometheus.Gatherer, store *taskboard.Board) {
	if reg == nil {
		r := prometheus.NewRegistry()
		r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		reg, gather = r, r
	}
	if gather == nil {
		gather = prometheus.DefaultGatherer
	}
	m.handler = promhttp.HandlerFor(gather, promhttp.HandlerOpts{})
	stat := func(f func(taskboard.Stats) float64) func() float64 {
		return func() float64 { return f(store.Stats()) }
	}
	reg.MustRegister(m.requests, m.latency, m.dbTime, m.conns, m.subs, m.multi, m.delivered, m.resets, m.slowDrops,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "taskboard_events_appended_total", Help: "Events appended to board logs by this process.",
		}, stat(func(s taskboard.Stats) float64 { return float64(s.EventsAppended) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "taskboard_listener_reconnects_total", Help: "Times the cross-instance notification listener (PostgreSQL) reconnected.",
		}, stat(func(s taskboard.Stats) float64 { return float64(s.ListenerReconnects) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "taskboard_notifications_received_total", Help: "Notifications received from other instances.",
		}, stat(func(s taskboard.Stats) float64 { return float64(s.NotificationsReceived) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "taskboard_notification_lag_seconds_total",
			Help: "Summed delay from an instance's NOTIFY to its receipt here; divide by taskboard_notifications_received_total for the mean.",
		}, stat(func(s taskboard.Stats) float64 { return s.NotificationLag.Seconds() })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "taskboard_webhook_deliveries_total", Help: "Webhook delivery attempts by this process, by result: ok (a 2xx answer) or failed.",
			ConstLabels: prometheus.Labels{"result": "ok"},
		}, stat(func(s taskboard.Stats) float64 { return float64(s.WebhookDeliveries) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "taskboard_webhook_deliveries_total", Help: "Webhook delivery attempts by this process, by result: ok (a 2xx answer) or failed.",
			ConstLabels: prometheus.Labels{"result": "failed"},
		}, stat(func(s taskboard.Stats) float64 { return float64(s.WebhookFailures) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "taskboard_webhook_retries_total", Help: "Webhook delivery attempts that repeated a failed one.",
		}, stat(func(s taskboard.Stats) float64 { return float64(s.WebhookRetries) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "taskboard_webhook_lag_events", Help: "The most events of its board any webhook delivered by this process has still to handle.",
		}, stat(func(s taskboard.Stats) float64 { return float64(s.WebhookLag) })),
	)
}

func (m *Metrics) serve(w http.ResponseWriter, r *http.Request) { m.handler.ServeHTTP(w, r) }

func (m *Metrics) observeRequest(route, method string, status int, d time.Duration) {
	s := strconv.Itoa(status)
	m.requests.WithLabelValues(route, method, s).Inc()
	m.latency.WithLabelValues(route, method, s).Observe(d.Seconds())
}

// SPDX-License-Identifier: Apache-2.0

package bench

import (
	"fmt"
	"image/color"
	"math"
	"net/http"
	"os"
	"sort"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// floodModes are the setups of the long flood, in table and chart order.
var floodModes = []Mode{StockFilter, Diagkit}

// writeLongFlood writes the section on the flood that outlasts the caches.
func (r *Results) writeLongFlood(p func(string, ...interface{}), chart string) {
	d, rate := r.LongFlood[Diagkit.Name].Duration, r.LongFlood[Diagkit.Name].Rate
	p("## A flood that outlasts the caches")
	p("")
	p("Distinct garbage tokens at %.0f/s, ten times diagkit's default review budget (%d/s, burst %d), one every %s for %s",
		rate, budgetQPS, budgetBurst, time.Duration(float64(time.Second)/math.Max(rate, 1)), shortDuration(d))
	p("(%s: both setups cache a valid token for %s, controller-runtime's filter without a way to change it),",
		lifetimes(d), shortDuration(tokenCacheTTL))
	p("with up to %d requests in flight on keep-alive connections, while one valid scraper (a ServiceAccount token with the", floodWorkers)
	p("metrics-reader grant, served once just before the flood, as a running Prometheus would have been) scrapes every")
	p("5 s with Prometheus' %s timeout. The two setups run one after the other: both managers review as one", shortDuration(scrapeTimeout))
	p("ServiceAccount, so kube-apiserver's counts could not tell their reviews apart, and one flood's load would slow the")
	p("other's reviews. Reviews are read from kube-apiserver's `apiserver_request_total` every 5 s.")
	if d < tokenCacheTTL {
		p("This short run's flood ends before the scraper's cache entry expires; `make bench` floods for three lifetimes.")
	}
	p("")
	p("![valid scraper and reviews per second during the flood](%s)", chart)
	p("")
	p("| setup | valid scraper: 200 | scraper statuses | scraper p50 / slowest | garbage sent | flood statuses | TokenReviews | SubjectAccessReviews | reviews/s: mean, busiest 5 s | TokenReviews per garbage request |")
	p("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, m := range floodModes {
		f := r.LongFlood[m.Name]
		tr, sar := f.Reviews()
		p50, slowest := f.scrapeLatency()
		sent := fmt.Sprintf("%d (%.0f/s)", f.Sent, f.SentRate())
		if f.Skipped > 0 {
			sent += fmt.Sprintf("; %d skipped, all %d workers waiting", f.Skipped, floodWorkers)
		}
		p("| %s | %d of %d | %s | %s / %s | %s | %s | %d | %d | %.1f, %.1f | %.2f |",
			m.Name, f.Served(), len(f.Scrapes), statuses(f.scraperStatuses()), ms(p50), ms(slowest), sent,
			statuses(f.Statuses), tr, sar, perSecond(tr+sar, f.Duration), f.busiest(), float64(tr)/math.Max(1, float64(f.Sent)))
	}
	p("")
	stock := r.LongFlood[StockFilter.Name]
	p("controller-runtime's filter sends one TokenReview per garbage request and answers it 500: every token is new, so")
	p("its cache of failures never helps, and the API server receives the whole flood (%.0f TokenReviews/s here, the", perSecond(stock.tokenReviews(), stock.Duration))
	p("last column ≈ 1 also shows that the API server saw every token as distinct). Its valid scraper got 200 on %d of %d", stock.Served(), len(stock.Scrapes))
	p("scrapes: the scraper is reviewed again when its entry expires, among the flood's reviews, so it is served as long")
	p("as the API server keeps up with all of them; nothing in the filter protects the API server or the scraper.")
	p("diagkit reviews garbage within its budget (401) and refuses the rest at once (503), so the flood costs the API")
	p("server at most the budget; the scraper, known-good, is re-reviewed on the reserve of a quarter of the budget on top")
	p("of it (%d/s, burst %d), which garbage never reaches, each time its cached entry expires.", reserveQPS, reserveBurst)
	p("")
}

// scrapeLatency is the valid scraper's median and slowest answer.
func (f LongFlood) scrapeLatency() (p50, slowest time.Duration) {
	var d []time.Duration
	for _, s := range f.Scrapes {
		d = append(d, s.Took)
	}
	if len(d) == 0 {
		return 0, 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)/2], d[len(d)-1]
}

// busiest is the highest reviews per second of any window.
func (f LongFlood) busiest() float64 {
	top := 0.0
	for _, r := range f.Rates() {
		top = math.Max(top, r.PerSecond)
	}
	return top
}

// tokenReviews is the TokenReviews of the flood, the scraper's few included.
func (f LongFlood) tokenReviews() int {
	tr, _ := f.Reviews()
	return tr
}

// WriteFloodChart writes a PNG of the long floods over time: above, the valid scraper's status per scrape;
// below, the reviews per second at kube-apiserver, with diagkit's budget and reserve for reference.
func (r *Results) WriteFloodChart(path string) error {
	scrapes := plot.New()
	scrapes.Title.Text = "Valid scraper during the garbage flood: status of each scrape"
	scrapes.Y.Label.Text = "HTTP status"
	rates := plot.New()
	rates.Title.Text = "Reviews per second reaching kube-apiserver (TokenReviews + SubjectAccessReviews, log scale)"
	rates.Y.Label.Text = "reviews/s"
	rates.X.Label.Text = "seconds into the flood"
	rates.Y.Scale = plot.LogScale{}

	seen := map[int]bool{http.StatusOK: true}
	end, top := 0.0, float64(budgetQPS+reserveQPS)
	for i, m := range floodModes {
		f := r.LongFlood[m.Name]
		end = math.Max(end, f.Duration.Seconds())
		var pts plotter.XYs
		for _, s := range f.Scrapes {
			seen[s.Status] = true
			// Each setup slightly off the status line, so that both stay visible where they agree.
			pts = append(pts, plotter.XY{X: s.At.Seconds(), Y: statusY(s.Status) + 8*float64(2*i-1)})
		}
		if len(pts) > 0 {
			sc, err := plotter.NewScatter(pts)
			if err != nil {
				return err
			}
			sc.GlyphStyle.Color = plotutil.Color(i)
			sc.GlyphStyle.Radius = vg.Points(3.5)
			sc.GlyphStyle.Shape = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.BoxGlyph{}}[i]
			scrapes.Add(sc)
			scrapes.Legend.Add(m.Name, sc)
		}
		var line plotter.XYs
		for _, rate := range f.Rates() {
			// Each window's rate at its middle. A log axis has no zero: a window without reviews sits at its floor.
			line = append(line, plotter.XY{X: (rate.At - rate.Window/2).Seconds(), Y: math.Max(rate.PerSecond, 1)})
			top = math.Max(top, rate.PerSecond)
		}
		if len(line) > 0 {
			l, err := plotter.NewLine(line)
			if err != nil {
				return err
			}
			l.Color = plotutil.Color(i)
			l.Width = vg.Points(2)
			rates.Add(l)
			rates.Legend.Add(m.Name, l)
		}
	}
	if end == 0 {
		end = 1
	}
	limit, err := plotter.NewLine(plotter.XYs{{X: 0, Y: budgetQPS + reserveQPS}, {X: end, Y: budgetQPS + reserveQPS}})
	if err != nil {
		return err
	}
	limit.Color = color.Gray{Y: 90}
	limit.Dashes = []vg.Length{vg.Points(6), vg.Points(4)}
	rates.Add(limit)
	rates.Legend.Add(fmt.Sprintf("diagkit's budget + reserve (%d/s)", budgetQPS+reserveQPS), limit)
	var ticks plot.ConstantTicks
	var statusList []int
	for s := range seen {
		statusList = append(statusList, s)
	}
	sort.Ints(statusList)
	for _, s := range statusList {
		label := strconv.Itoa(s)
		if s == -1 {
			label = "no answer"
		}
		ticks = append(ticks, plot.Tick{Value: statusY(s), Label: label})
	}
	scrapes.Y.Tick.Marker = ticks
	// Room above the statuses for the legend.
	scrapes.Y.Min, scrapes.Y.Max = statusY(statusList[0])-60, statusY(statusList[len(statusList)-1])+220
	var rateTicks plot.ConstantTicks
	for _, v := range []float64{1, 2, 5, 10, 25, 50, 100, 200, 500, 1000, 2000, 5000} {
		if v <= top*2 {
			rateTicks = append(rateTicks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64)})
		}
	}
	rates.Y.Tick.Marker = rateTicks
	rates.Y.Min, rates.Y.Max = 1, top*2
	step := 30.0
	if end <= 60 {
		step = 5
	}
	var xTicks plot.ConstantTicks
	for x := 0.0; x <= end; x += step {
		xTicks = append(xTicks, plot.Tick{Value: x, Label: strconv.FormatFloat(x, 'f', -1, 64)})
	}
	for _, pl := range []*plot.Plot{scrapes, rates} {
		pl.X.Min, pl.X.Max = 0, end
		pl.X.Tick.Marker = xTicks
		pl.Add(plotter.NewGrid())
	}
	// Legends where the data is not: above the statuses, below the review rates.
	scrapes.Legend.Top = true
	rates.Legend.Top = false

	// The scraper's cached token expires at every lifetime: dotted lines on both plots.
	for t := tokenCacheTTL; t.Seconds() < end; t += tokenCacheTTL {
		for _, pl := range []*plot.Plot{scrapes, rates} {
			v, err := plotter.NewLine(plotter.XYs{{X: t.Seconds(), Y: pl.Y.Min}, {X: t.Seconds(), Y: pl.Y.Max}})
			if err != nil {
				return err
			}
			v.Color = color.Gray{Y: 150}
			v.Dashes = []vg.Length{vg.Points(2), vg.Points(3)}
			pl.Add(v)
			if t == tokenCacheTTL && pl == scrapes {
				pl.Legend.Add("token cache lifetime", v)
			}
		}
	}

	const w, h = 9 * vg.Inch, 7 * vg.Inch
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8), PadY: vg.Points(12)}
	plots := [][]*plot.Plot{{scrapes}, {rates}}
	canvases := plot.Align(plots, tiles, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(out); err != nil {
		out.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return out.Close()
}

// statusY places a status on the scraper plot; a scrape without an answer goes below the statuses.
func statusY(status int) float64 {
	if status == -1 {
		return 100
	}
	return float64(status)
}

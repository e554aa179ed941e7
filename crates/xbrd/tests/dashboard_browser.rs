//! The dashboard in headless Chromium against the demo market (`scripts/demo.sh`, see
//! `tests/demo.rs`): for each role the test opens `/dashboard`, is refused with a wrong token, logs
//! in with the daemon's token, waits for data, and checks that the page's figures (purchases,
//! sales, each channel's remaining balance and sequence, the seller's rotations and offers, the
//! number of balance samples charted, readiness) equal the admin API's. It saves a screenshot per
//! role as a CI artifact, `target/ci-artifacts/dashboard-<role>.png`.
//!
//! Chromium and its WebDriver come from the system's packages (`scripts/peers.sh install chromium`;
//! `scripts/test.sh` runs it); the test drives them with the `fantoccini` WebDriver client.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde::Deserialize;
use serde_json::{Value, json};

use common::demo::{Demo, command, free_ports};
use common::{request, wait_for};

/// How long the demo may take to have a market with purchases.
const MARKET_LIMIT: Duration = Duration::from_secs(300);
/// How long a page may take to show a consistent picture.
const PAGE_LIMIT: Duration = Duration::from_secs(90);

/// One daemon of the demo: its admin `host:port` and token (from the demo's `admin.env`).
struct Admin {
    role: &'static str,
    addr: String,
    token: String,
}

impl Admin {
    fn get(&self, path: &str) -> Value {
        let (status, body) = request(&self.addr, "GET", path, Some(&self.token), None)
            .unwrap_or_else(|e| panic!("{} GET {path}: {e}", self.role));
        assert!(
            status == 200 || (status == 409 && path == "/v1/keys"),
            "{} GET {path}: {status} {body}",
            self.role
        );
        body
    }
}

/// Waits for the demo's `admin.env` (written once all three daemons are ready).
fn admins(demo: &mut Demo) -> Vec<Admin> {
    let env_file = demo.run_dir.join("admin.env");
    let start = Instant::now();
    let text = loop {
        let text = std::fs::read_to_string(&env_file).unwrap_or_default();
        if text.lines().filter(|l| l.contains("_TOKEN=")).count() == 3 {
            break text;
        }
        if let Some(status) = demo.child.try_wait().unwrap() {
            panic!(
                "demo.sh exited ({status}) before the market was up:\n{}",
                demo.stderr()
            );
        }
        assert!(
            start.elapsed() < MARKET_LIMIT,
            "the demo's market is not up after {MARKET_LIMIT:?}:\n{}",
            demo.stderr()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let var = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} in {text}"))
            .trim()
            .to_owned()
    };
    [
        ("buyer", "BUYER"),
        ("seller", "SELLER"),
        ("marketmaker", "MAKER"),
    ]
    .into_iter()
    .map(|(role, v)| Admin {
        role,
        addr: var(&format!("XBRD_{v}_URL"))
            .trim_start_matches("http://")
            .to_owned(),
        token: var(&format!("XBRD_{v}_TOKEN")),
    })
    .collect()
}

/// What the page shows and the API answers, compared field by field.
#[derive(Debug, Clone, PartialEq, Deserialize)]
struct Figures {
    role: String,
    ready: bool,
    purchases: usize,
    sales: usize,
    /// Channel id → (remaining base units, seq).
    channels: BTreeMap<String, (String, u64)>,
    /// API id → (rotations, offers).
    keys: BTreeMap<String, (u64, usize)>,
    /// Balance samples charted.
    samples: usize,
    /// Latency histograms (label sets) in the metrics, the admin API's own excepted.
    latency_series: usize,
    /// Counter samples labelled with an error URI in the metrics.
    error_series: usize,
}

impl Admin {
    /// `GET /metrics` (text).
    fn metrics(&self) -> String {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let resp = xbrd::status::http_client()
                .get(format!("http://{}/metrics", self.addr))
                .bearer_auth(&self.token)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status().as_u16(), 200, "{} /metrics", self.role);
            resp.text().await.unwrap()
        })
    }
}

/// (latency series, error series) in a metrics text, counted as the page is meant to.
fn metric_series(text: &str) -> (usize, usize) {
    let histograms: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" histogram"))
        .filter(|f| !f.contains("admin_request"))
        .collect();
    let latency = text
        .lines()
        .filter(|l| {
            histograms
                .iter()
                .any(|f| l.starts_with(&format!("{f}_count")))
        })
        .count();
    let errors = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.split(['{', ' '])
                .next()
                .is_some_and(|n| n.ends_with("_total"))
        })
        .filter(|l| l.contains("uri=\""))
        .count();
    (latency, errors)
}

/// The same figures from the admin API.
fn api_figures(a: &Admin) -> Figures {
    let mut txs = Vec::new();
    let mut after: Option<u64> = None;
    loop {
        let q = after.map(|n| format!("&after={n}")).unwrap_or_default();
        let page = a.get(&format!("/v1/transactions?limit=1000{q}"));
        txs.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next"].as_u64() {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    let count = |kind: &str| txs.iter().filter(|t| t["kind"] == kind).count();
    let channels = a.get("/v1/channels");
    let channels = channels.as_array().unwrap().iter().map(|c| {
        (
            c["channel_oid"].as_str().unwrap().to_owned(),
            (
                c["remaining"].as_str().unwrap().to_owned(),
                c["seq"].as_u64().unwrap(),
            ),
        )
    });
    let keys = a.get("/v1/keys");
    let keys = keys["apis"].as_array().into_iter().flatten().map(|k| {
        (
            k["api_id"].as_str().unwrap().to_owned(),
            (
                k["rotations"].as_u64().unwrap(),
                k["offers"].as_array().unwrap().len(),
            ),
        )
    });
    let (_, ready) = request(&a.addr, "GET", "/ready", None, None).unwrap();
    let (latency_series, error_series) = metric_series(&a.metrics());
    Figures {
        role: a.get("/v1/status")["role"].as_str().unwrap().to_owned(),
        ready: ready["ready"] == true,
        purchases: count("purchase"),
        sales: count("sale"),
        channels: channels.collect(),
        keys: keys.collect(),
        samples: a.get("/v1/balances/history")["samples"]
            .as_array()
            .unwrap()
            .len(),
        latency_series,
        error_series,
    }
}

/// Reads the page's figures (and its refresh count) in one script run.
const PAGE_FIGURES: &str = r##"
const q = (s) => document.querySelector(s);
const channels = {};
for (const tr of document.querySelectorAll("#channels tbody tr")) {
  channels[tr.dataset.channel] = [
    tr.querySelector("[data-field=remaining]").dataset.baseUnits,
    Number(tr.querySelector("[data-field=seq]").textContent),
  ];
}
const keys = {};
for (const tr of document.querySelectorAll("#keys tbody tr")) {
  keys[tr.dataset.api] = [
    Number(tr.querySelector("[data-field=rotations]").textContent),
    Number(tr.querySelector("[data-field=offers]").textContent),
  ];
}
return {
  refreshed: Number(q("#refreshed").dataset.count),
  error: q("#fetch-error").textContent,
  chart_points: Number(q("#chart-xbr").dataset.points || 0),
  chart_drawn: q("#chart-xbr canvas") !== null,
  figures: {
    role: q("#status-role").dataset.role || "",
    ready: q("#ready").dataset.ready === "true",
    purchases: Number(q("#purchases-count").textContent),
    sales: Number(q("#sales-count").textContent),
    channels,
    keys,
    samples: Number(q("#history-samples").dataset.count || 0),
    latency_series: document.querySelectorAll("#latency tbody tr").length,
    error_series: document.querySelectorAll("#errors tbody tr").length,
  },
};
"##;

/// A WebDriver session driven from synchronous code: each command runs on the browser's own
/// runtime (the admin API helpers block on runtimes of their own, which cannot nest).
struct Browser {
    rt: tokio::runtime::Runtime,
    client: Client,
}

impl Browser {
    fn run<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        self.rt.block_on(f)
    }

    fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.run(
            self.client
                .wait()
                .at_most(PAGE_LIMIT)
                .for_element(Locator::Css(css)),
        )
        .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
    }

    fn page(&self) -> Page {
        let v = self.run(self.client.execute(PAGE_FIGURES, vec![])).unwrap();
        serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("page figures {v}: {e}"))
    }
}

#[derive(Debug, Deserialize)]
struct Page {
    refreshed: u64,
    error: String,
    chart_points: usize,
    chart_drawn: bool,
    figures: Figures,
}

/// Waits until the page has refreshed `n` more times; the page then.
fn refreshed(b: &Browser, n: u64) -> Page {
    let from = b.page().refreshed;
    let start = Instant::now();
    loop {
        let p = b.page();
        if p.refreshed >= from + n {
            return p;
        }
        assert!(
            start.elapsed() < PAGE_LIMIT,
            "the page stopped refreshing: {p:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The page's figures once they can be compared: the API answered the same before and after a
/// whole refresh of the page, so the page read that state too.
fn consistent(b: &Browser, admin: &Admin) -> (Page, Figures) {
    let start = Instant::now();
    loop {
        let before = api_figures(admin);
        let p = refreshed(b, 2);
        let after = api_figures(admin);
        if before == after {
            return (p, after);
        }
        assert!(
            start.elapsed() < PAGE_LIMIT,
            "{}: the API never held still for a page refresh",
            admin.role
        );
    }
}

/// Logs in with `token`.
fn log_in(b: &Browser, token: &str) {
    let input = b.find("#login:not([hidden]) #token");
    b.run(input.send_keys(token)).unwrap();
    let button = b.find("#login-button");
    b.run(button.click()).unwrap();
}

/// Where CI collects artifacts.
fn artifacts_dir() -> PathBuf {
    let dir = xbrd_testkit::repo_root().join("target/ci-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn check_role(b: &Browser, admin: &Admin) {
    b.run(b.client.goto(&format!("http://{}/dashboard", admin.addr)))
        .unwrap();
    // A wrong token is refused and asked for again.
    log_in(b, "not-the-token");
    let error = b.find("#login:not([hidden]) #login-error");
    assert!(b.run(error.text()).unwrap().contains("refused"));

    log_in(b, &admin.token);
    b.find("#app[data-loaded=true]");
    let (p, api) = consistent(b, admin);
    assert_eq!(
        p.figures, api,
        "{}: the page shows what the API says",
        admin.role
    );
    assert_eq!(p.error, "", "{}: the page reports an error", admin.role);
    assert_eq!(api.role, admin.role);
    assert!(api.ready, "{}: not ready", admin.role);
    assert!(p.chart_drawn, "{}: no balance chart", admin.role);
    assert_eq!(p.chart_points, api.samples, "{}: chart points", admin.role);
    match admin.role {
        "buyer" => assert!(api.purchases > 0 && api.channels.len() == 1, "{api:?}"),
        "seller" => assert!(api.sales > 0 && !api.keys.is_empty(), "{api:?}"),
        _ => assert!(api.sales > 0 && api.channels.len() == 2, "{api:?}"),
    }

    let png = b.run(b.client.screenshot()).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    let path = artifacts_dir().join(format!("dashboard-{}.png", admin.role));
    std::fs::write(&path, png).unwrap();
    println!("{}: screenshot {}", admin.role, path.display());
}

/// An exposition with a latency histogram and failures by URI, as prometheus-client renders it.
fn synthetic_metrics() -> String {
    use prometheus_client::encoding::EncodeLabelSet;
    use prometheus_client::metrics::{counter::Counter, family::Family, histogram::Histogram};
    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct Uri {
        uri: String,
    }
    let mut registry = prometheus_client::registry::Registry::with_prefix("xbrd");
    let latency = Histogram::new([0.1, 0.2, 0.4]);
    for s in [0.05, 0.15, 0.15, 0.3] {
        latency.observe(s);
    }
    registry.register("purchase_duration_seconds", "Purchase latency", latency);
    let failures = Family::<Uri, Counter>::default();
    let uri = |u: &str| Uri { uri: u.into() };
    failures.get_or_create(&uri("xbr.error.busy")).inc_by(3);
    failures.get_or_create(&uri("other")).inc();
    registry.register("failures", "Failed calls by error URI", failures);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    text
}

/// The page's parsing of the metrics text: latency count, sum and median from the buckets, and
/// the failure counters by URI, largest first.
fn check_metrics_parsing(b: &Browser) {
    let script = r#"
        const d = window.xbrdDashboard;
        const m = d.parseMetrics(arguments[0]);
        return {
          latency: d.latencies(m).map((h) => [h.key, h.count, h.sum, h.p50]),
          errors: d.errorCounters(m).map((s) => [s.family, s.labels.uri, s.value]),
        };"#;
    let text = synthetic_metrics();
    let v = b.run(b.client.execute(script, vec![json!(text)])).unwrap();
    let latency = &v["latency"];
    assert_eq!(latency.as_array().unwrap().len(), 1, "{v}\n{text}");
    assert_eq!(latency[0][0], "xbrd_purchase_duration_seconds", "{v}");
    assert_eq!(latency[0][1], 4, "{v}");
    assert!((latency[0][2].as_f64().unwrap() - 0.65).abs() < 1e-9, "{v}");
    // Rank 2 of 4 falls in (0.1, 0.2] holding observations 2 and 3: halfway, 0.15.
    assert!((latency[0][3].as_f64().unwrap() - 0.15).abs() < 1e-9, "{v}");
    assert_eq!(
        v["errors"],
        json!([
            ["xbrd_failures", "xbr.error.busy", 3],
            ["xbrd_failures", "other", 1]
        ]),
        "{text}"
    );
}

/// chromedriver on a free port, stopped on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_driver(log: &Path) -> Driver {
    let port = free_ports(1)[0];
    let child = command("chromedriver")
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect(
            "chromedriver not found: install Chromium with `scripts/peers.sh install chromium`",
        );
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    wait_for("chromedriver to listen", Duration::from_secs(30), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    driver
}

/// Headless Chromium as root in a container: no sandbox, no GPU, nothing fetched in the
/// background, a profile of its own.
fn capabilities(profile: &Path) -> serde_json::Map<String, Value> {
    let mut options = json!({
        "args": [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", "--window-size=1280,2000",
            format!("--user-data-dir={}", profile.display()),
        ]
    });
    if let Some(binary) = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
    {
        options["binary"] = json!(binary);
    }
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), options);
    caps
}

#[test]
fn the_dashboard_shows_what_the_api_says_for_every_role_of_the_demo() {
    let tmp = tempfile::tempdir().unwrap();
    let driver = start_driver(&tmp.path().join("chromedriver.log"));
    let mut demo = Demo::start(tmp.path(), &[], &[("XBRD_DEMO_TIMEOUT", "240".into())]);
    let admins = admins(&mut demo);

    // Data to show: the buyer has bought, the seller has sold, a balance sample of each daemon.
    let buyer = &admins[0];
    wait_for("purchases at the buyer", MARKET_LIMIT, || {
        api_figures(buyer).purchases > 0
    });
    for a in &admins {
        wait_for("a balance sample", MARKET_LIMIT, || {
            api_figures(a).samples > 0
        });
    }

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = rt
        .block_on(
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(capabilities(&tmp.path().join("chromium-profile")))
                .connect(&driver.url),
        )
        .expect("start headless Chromium through chromedriver");
    let browser = Browser { rt, client };
    for a in &admins {
        check_role(&browser, a);
    }
    check_metrics_parsing(&browser);
    browser.run(browser.client.clone().close()).unwrap();
    drop(demo);
}

//! `wamp bench`: RPC round trips per second and caller CPU time per call.
//!
//! A callee session runs on a thread of its own (its own runtime) and registers an echo
//! procedure; the caller session runs on the main thread's single-threaded runtime, so the CPU
//! time of the main thread is exactly what the caller spent: encoding, decoding, the session
//! state machine, the driver and the socket calls.

use std::thread;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio::task::JoinSet;
use wamp_client::options::{CallOptions, RegisterOptions};
use wamp_client::{InvocationResult, Session};
use wamp_proto::{Dict, Value};

use crate::cli::{BenchArgs, ConnectionArgs};
use crate::failure::Failure;
use crate::{connect, cpu, json};

/// Runs the benchmark and prints one JSON document with the figures (and a summary on stderr).
pub async fn run(conn: &ConnectionArgs, args: BenchArgs) -> Result<(), Failure> {
    if args.calls == 0 || args.concurrency == 0 {
        return Err(Failure::Usage(
            "--calls and --concurrency must be at least 1".into(),
        ));
    }
    let procedure = format!("xbrd.bench.echo.{}.{}", std::process::id(), nanos_now());
    let callee = Callee::start(conn.clone(), procedure.clone()).await?;
    let outcome = measure(conn, &args, &procedure).await;
    callee.stop().await;
    let report = outcome?;
    json::print_line(&Value::Dict(report.to_dict(&args)));
    eprintln!(
        "wamp bench: {} calls, concurrency {}, {} B payload over {} ({}): {:.0} round trips/s, \
         {:.1} µs caller CPU per call, latency p50 {:.0} µs, p99 {:.0} µs",
        args.calls,
        args.concurrency,
        args.payload_bytes,
        conn.url,
        report.serializer,
        report.calls_per_second(args.calls),
        report.cpu_us_per_call(args.calls),
        report.percentile_us(0.50),
        report.percentile_us(0.99),
    );
    Ok(())
}

fn nanos_now() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// What one run measured.
struct Report {
    serializer: &'static str,
    wall: Duration,
    caller_cpu: Duration,
    latencies: Vec<Duration>,
}

impl Report {
    fn calls_per_second(&self, calls: u64) -> f64 {
        calls as f64 / self.wall.as_secs_f64()
    }

    fn cpu_us_per_call(&self, calls: u64) -> f64 {
        self.caller_cpu.as_secs_f64() * 1e6 / calls as f64
    }

    fn percentile_us(&self, q: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let rank = ((self.latencies.len() - 1) as f64 * q).round() as usize;
        self.latencies[rank].as_secs_f64() * 1e6
    }

    fn to_dict(&self, args: &BenchArgs) -> Dict {
        let mut d = Dict::new();
        d.insert("calls".into(), Value::from(args.calls));
        d.insert(
            "concurrency".into(),
            Value::from(u64::from(args.concurrency)),
        );
        d.insert(
            "payload_bytes".into(),
            Value::from(args.payload_bytes as u64),
        );
        d.insert("serializer".into(), Value::from(self.serializer));
        d.insert("seconds".into(), Value::Float(self.wall.as_secs_f64()));
        d.insert(
            "round_trips_per_second".into(),
            Value::Float(self.calls_per_second(args.calls)),
        );
        d.insert(
            "caller_cpu_us_per_call".into(),
            Value::Float(self.cpu_us_per_call(args.calls)),
        );
        let mut latency = Dict::new();
        for (name, q) in [("p50", 0.50), ("p90", 0.90), ("p99", 0.99), ("max", 1.0)] {
            latency.insert(name.into(), Value::Float(self.percentile_us(q)));
        }
        d.insert("latency_us".into(), Value::Dict(latency));
        d
    }
}

async fn measure(
    conn: &ConnectionArgs,
    args: &BenchArgs,
    procedure: &str,
) -> Result<Report, Failure> {
    let session = connect::session(conn).await?;
    let serializer = session.info().map_or("unknown", |i| i.serializer.name());
    let payload = vec![Value::bytes(vec![0xa5u8; args.payload_bytes])];
    let outcome = async {
        run_calls(&session, procedure, &payload, args.warmup, args.concurrency).await?;
        let cpu_before = cpu::thread_cpu_time();
        let start = Instant::now();
        let mut latencies =
            run_calls(&session, procedure, &payload, args.calls, args.concurrency).await?;
        let wall = start.elapsed();
        let caller_cpu = match (cpu_before, cpu::thread_cpu_time()) {
            (Some(before), Some(after)) => after.saturating_sub(before),
            _ => {
                return Err(Failure::Local(
                    "cannot read the thread's CPU time from /proc".into(),
                ));
            }
        };
        latencies.sort_unstable();
        Ok(Report {
            serializer,
            wall,
            caller_cpu,
            latencies,
        })
    }
    .await;
    let _ = session.leave().await;
    outcome
}

/// Makes `calls` calls, `concurrency` at a time; returns each call's latency.
async fn run_calls(
    session: &Session,
    procedure: &str,
    payload: &[Value],
    calls: u64,
    concurrency: u32,
) -> Result<Vec<Duration>, Failure> {
    let mut workers = JoinSet::new();
    for worker in 0..u64::from(concurrency) {
        let share =
            calls / u64::from(concurrency) + u64::from(worker < calls % u64::from(concurrency));
        let session = session.clone();
        let procedure = procedure.to_string();
        let payload = payload.to_vec();
        workers.spawn(async move {
            let mut latencies = Vec::with_capacity(share as usize);
            for _ in 0..share {
                let start = Instant::now();
                let result = session
                    .call(
                        &procedure,
                        payload.clone(),
                        Dict::new(),
                        CallOptions::default(),
                    )
                    .await
                    .map_err(|e| Failure::from_error("benchmark call", e))?;
                latencies.push(start.elapsed());
                if result.args != payload {
                    return Err(Failure::Local(
                        "the echo procedure returned something else".into(),
                    ));
                }
            }
            Ok(latencies)
        });
    }
    let mut all = Vec::with_capacity(calls as usize);
    while let Some(joined) = workers.join_next().await {
        let latencies =
            joined.map_err(|e| Failure::Local(format!("benchmark task failed: {e}")))??;
        all.extend(latencies);
    }
    Ok(all)
}

/// The echo callee, on its own thread and runtime.
struct Callee {
    stop: oneshot::Sender<()>,
    thread: thread::JoinHandle<()>,
}

impl Callee {
    async fn start(conn: ConnectionArgs, procedure: String) -> Result<Callee, Failure> {
        let (ready_tx, ready_rx) = oneshot::channel::<Result<(), Failure>>();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = thread::Builder::new()
            .name("bench-callee".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(Failure::Local(format!("callee runtime: {e}"))));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let session = match connect::session(&conn).await {
                        Ok(s) => s,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let registered = session
                        .register(&procedure, RegisterOptions::default(), |inv| async move {
                            Ok(InvocationResult::new(inv.args, inv.kwargs))
                        })
                        .await;
                    match registered {
                        Ok(_) => {
                            let _ = ready_tx.send(Ok(()));
                            let _ = stopped.await;
                        }
                        Err(e) => {
                            let _ = ready_tx
                                .send(Err(Failure::from_error("register the bench callee", e)));
                        }
                    }
                    let _ = session.leave().await;
                });
            })
            .map_err(|e| Failure::Local(format!("cannot start the callee thread: {e}")))?;
        let ready = ready_rx.await;
        let callee = Callee { stop, thread };
        match ready {
            Ok(Ok(())) => Ok(callee),
            Ok(Err(e)) => {
                callee.stop().await;
                Err(e)
            }
            Err(_) => {
                callee.stop().await;
                Err(Failure::Local(
                    "the callee thread ended before registering".into(),
                ))
            }
        }
    }

    /// Tells the callee to leave and waits for its thread (off the async thread).
    async fn stop(self) {
        let _ = self.stop.send(());
        let thread = self.thread;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
}

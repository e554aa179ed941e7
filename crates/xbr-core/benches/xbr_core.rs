//! Hot paths of the data market: payload wrap/unwrap (1 KiB CBOR), ChannelClose sign/recover,
//! sealed-key seal/open.
//!
//! Measured in **thread CPU time** (not wall time): the targets are per core, and on a shared
//! machine wall time mostly measures the other processes.

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand_core::OsRng;
use serde::{Deserialize, Serialize};
use xbr_core::eip712::{EIP712ChannelClose, recover_typed, sign_typed};
use xbr_core::eth::EthPrivateKey;
use xbr_core::keyseries::{KeySeries, RotationPolicy};
use xbr_core::payload;
use xbr_core::sealedbox::{self, BuyerReceiveKey};
use xbr_core::{Address, DataKey, U256};

#[derive(Serialize, Deserialize)]
struct Reading {
    sensor: String,
    counter: u64,
    values: Vec<f64>,
    #[serde(with = "bytes")]
    blob: Vec<u8>,
}

mod bytes {
    pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let v: ciborium::Value = serde::Deserialize::deserialize(d)?;
        v.into_bytes()
            .map_err(|_| serde::de::Error::custom("expected bytes"))
    }
}

/// Thread CPU time as a criterion measurement, in nanoseconds.
struct CpuTime;

impl Measurement for CpuTime {
    type Intermediate = cpu_time::ThreadTime;
    type Value = Duration;

    fn start(&self) -> Self::Intermediate {
        cpu_time::ThreadTime::now()
    }
    fn end(&self, i: Self::Intermediate) -> Self::Value {
        i.elapsed()
    }
    fn add(&self, v1: &Self::Value, v2: &Self::Value) -> Self::Value {
        *v1 + *v2
    }
    fn zero(&self) -> Self::Value {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Self::Value) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuNanos
    }
}

struct CpuNanos;

impl ValueFormatter for CpuNanos {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (div, unit) = if typical < 1e3 {
            (1.0, "ns(cpu)")
        } else if typical < 1e6 {
            (1e3, "µs(cpu)")
        } else {
            (1e6, "ms(cpu)")
        };
        values.iter_mut().for_each(|v| *v /= div);
        unit
    }
    fn scale_throughputs(
        &self,
        typical: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let per_iter = match throughput {
            Throughput::Elements(n) | Throughput::Bytes(n) | Throughput::BytesDecimal(n) => {
                *n as f64
            }
            Throughput::Bits(n) => *n as f64,
        };
        let _ = typical;
        values.iter_mut().for_each(|v| *v = per_iter * 1e9 / *v);
        "elem/s(cpu)"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

fn reading() -> Reading {
    Reading {
        sensor: "py-seller".into(),
        counter: 1,
        values: (0..64).map(|i| i as f64 * 0.5).collect(),
        blob: vec![0x5a; 788],
    }
}

fn payload_benches(c: &mut Criterion<CpuTime>) {
    let value = reading();
    let cbor = payload::to_cbor(&value).unwrap();
    assert!(
        (1000..1100).contains(&cbor.len()),
        "payload is {} bytes",
        cbor.len()
    );
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut series = KeySeries::new(
        xbr_core::ApiId([1; 16]),
        U256::from(35u64),
        RotationPolicy::Interval(Duration::from_secs(3600)),
    )
    .unwrap();
    series.start(now, &mut OsRng);
    let wrapped = series.encrypt_cbor(&cbor, now, &mut OsRng).unwrap();
    let key = series.key(&wrapped.key_id).unwrap().clone();

    let mut g = c.benchmark_group("payload_1KiB");
    g.throughput(Throughput::Elements(1));
    g.bench_function("wrap_cbor_bytes", |b| {
        b.iter(|| {
            series
                .encrypt_cbor(black_box(&cbor), now, &mut OsRng)
                .unwrap()
        })
    });
    // What the seller does: nonces from the thread-local CSPRNG instead of a getrandom call.
    g.bench_function("wrap_cbor_bytes_thread_rng", |b| {
        b.iter(|| {
            series
                .encrypt_cbor(black_box(&cbor), now, &mut rand::thread_rng())
                .unwrap()
        })
    });
    g.bench_function("wrap_value", |b| {
        b.iter(|| series.encrypt(black_box(&value), now, &mut OsRng).unwrap())
    });
    g.bench_function("unwrap_cbor_bytes", |b| {
        b.iter(|| payload::open(&key, black_box(&wrapped.ciphertext)).unwrap())
    });
    g.bench_function("unwrap_value", |b| {
        b.iter(|| payload::decrypt_value::<Reading>(&key, black_box(&wrapped.ciphertext)).unwrap())
    });
    g.finish();
}

fn eip712_benches(c: &mut Criterion<CpuTime>) {
    let key =
        EthPrivateKey::from_hex("e485d098507f54e7733a205420dfddbe58db035fa577fc294ebd14db90767a52")
            .unwrap();
    let msg = EIP712ChannelClose::new(
        5777,
        Address::repeat_byte(0xc8),
        1,
        xbr_core::MarketId([0xa1; 16]),
        xbr_core::ChannelId([0x0b; 16]),
        2,
        U256::from(965_000_000_000_000_000_000u128),
        false,
    );
    let sig = sign_typed(&key, &msg);
    let mut g = c.benchmark_group("channel_close");
    g.throughput(Throughput::Elements(1));
    g.bench_function("sign", |b| b.iter(|| sign_typed(&key, black_box(&msg))));
    g.bench_function("recover", |b| {
        b.iter(|| recover_typed(black_box(&msg), black_box(&sig)).unwrap())
    });
    g.finish();
}

fn sealedbox_benches(c: &mut Criterion<CpuTime>) {
    let buyer = BuyerReceiveKey::generate(&mut OsRng);
    let pk = buyer.public();
    let key = DataKey::random(&mut OsRng);
    let sealed = sealedbox::seal(key.as_bytes(), &pk, &mut OsRng);
    let mut g = c.benchmark_group("sealed_key");
    g.throughput(Throughput::Elements(1));
    g.bench_function("seal", |b| {
        b.iter(|| sealedbox::seal(key.as_bytes(), black_box(&pk), &mut OsRng))
    });
    g.bench_function("open", |b| {
        b.iter(|| buyer.open(black_box(&sealed)).unwrap())
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(CpuTime);
    targets = payload_benches, eip712_benches, sealedbox_benches
}
criterion_main!(benches);

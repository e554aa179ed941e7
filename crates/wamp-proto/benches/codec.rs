//! Encode/decode speed per serializer for a typical CALL (the XBR `buy_key` call) and a
//! typical EVENT (`(key_id, "cbor", ciphertext)` with a 1 KiB ciphertext).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wamp_proto::{Dict, Message, Serializer, Value};

fn buy_key_call() -> Message {
    let hex = include_str!("../tests/data/buy_key_call.cbor.hex").trim();
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect();
    Serializer::Cbor
        .decode(&bytes)
        .expect("reference vector decodes")
}

fn xbr_event() -> Message {
    let ciphertext: Vec<u8> = (0..1024u32 + 40).map(|i| (i * 31 % 251) as u8).collect();
    Message::Event {
        subscription: 1_234_567,
        publication: 7_654_321,
        details: Dict::new(),
        args: vec![
            Value::bytes(vec![0x5a; 16]),
            Value::from("cbor"),
            Value::bytes(ciphertext),
        ],
        kwargs: Dict::new(),
    }
}

fn bench(c: &mut Criterion) {
    for (name, msg) in [("call_buy_key", buy_key_call()), ("event_1k", xbr_event())] {
        let mut group = c.benchmark_group(name);
        for ser in [Serializer::Json, Serializer::MsgPack, Serializer::Cbor] {
            let bytes = ser.encode(&msg).expect("encodes");
            group.throughput(Throughput::Elements(1));
            group.bench_function(format!("encode/{ser}"), |b| {
                let mut buf = Vec::with_capacity(bytes.len());
                b.iter(|| {
                    buf.clear();
                    ser.encode_into(black_box(&msg), &mut buf).expect("encodes");
                    black_box(buf.len())
                })
            });
            group.bench_function(format!("decode/{ser}"), |b| {
                b.iter(|| black_box(ser.decode(black_box(&bytes)).expect("decodes")))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Feeds arbitrary frames to a joined session: must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wamp_proto::auth::ClientAuth;
use wamp_proto::session::{Session, SessionConfig};
use wamp_proto::{Dict, Message, Serializer};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let ser = Serializer::ALL[usize::from(selector) % 3];
    let mut s = Session::new(SessionConfig::new("realm1", ClientAuth::anonymous()));
    if s.join([0; 32]).is_err() {
        return;
    }
    let _ = s.handle_message(Message::Welcome { session: 1, details: Dict::new() });
    let _ = s.call("com.x", vec![], Dict::new(), Dict::new());
    let _ = s.subscribe("com.t", Dict::new());
    let _ = s.register("com.p", Dict::new());
    // Frames are separated by 0xff bytes.
    for frame in rest.split(|b| *b == 0xff) {
        let _ = s.handle_bytes(ser, frame);
        while s.poll_outgoing().is_some() {}
        while s.poll_event().is_some() {}
    }
});

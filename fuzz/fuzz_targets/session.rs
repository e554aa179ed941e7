//! Feeds arbitrary frames to a joined session: must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wamp_proto::auth::ClientAuth;
use wamp_proto::session::{Session, SessionConfig};
use wamp_proto::{Dict, Message, Serializer};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let ser = Serializer::ALL[usize::from(selector) % 3];
    let mut s = Session::new(SessionConfig::new("realm1", ClientAuth::anonymous()));
    let now = std::time::Instant::now();
    if s.join(now, [0; 32]).is_err() {
        return;
    }
    let _ = s.handle_message(Message::Welcome {
        session: 1,
        details: Dict::new(),
    });
    let _ = s.call(now, "com.x", vec![], Dict::new(), Dict::new(), None);
    let _ = s.subscribe(now, "com.t", Dict::new());
    let _ = s.register(now, "com.p", Dict::new());
    // The selector's high bit lets every request time out first (late answers are dropped).
    if selector & 0x80 != 0 {
        s.handle_timeout(now + wamp_proto::session::DEFAULT_REQUEST_TIMEOUT);
    }
    // Frames are separated by 0xff bytes.
    for frame in rest.split(|b| *b == 0xff) {
        let _ = s.handle_bytes(ser, frame);
        while s.poll_outgoing().is_some() {}
        while s.poll_event().is_some() {}
    }
});

//! Decodes arbitrary bytes with every serializer: must never panic. Whatever decodes must
//! re-encode (except integers beyond 64 bits in MsgPack) and decode to the same message. The
//! received-frame decoder (which splits a failed frame to tell a bad payload from a bad
//! envelope) must agree on what decodes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wamp_proto::{EncodeError, Serializer};

fuzz_target!(|data: &[u8]| {
    for ser in Serializer::ALL {
        let received = ser.decode_received(data, usize::MAX);
        assert_eq!(received.is_ok(), ser.decode(data).is_ok(), "{ser}");
        if let Ok(msg) = received {
            match ser.encode(&msg) {
                Ok(bytes) => {
                    // Compared as bytes: a NaN float never equals itself.
                    let again = ser.decode(&bytes).expect("re-encoded message decodes");
                    assert_eq!(ser.encode(&again).as_ref(), Ok(&bytes), "{ser} round trip");
                }
                Err(EncodeError::IntegerTooLarge { .. }) => {}
                Err(EncodeError::NonFiniteFloat) => {}
                Err(e) => panic!("{ser}: decoded message does not encode: {e}"),
            }
        }
    }
});

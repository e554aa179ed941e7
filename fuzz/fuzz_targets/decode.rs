//! Decodes arbitrary bytes with every serializer: must never panic. Whatever decodes must
//! re-encode (except integers beyond u64 in MsgPack) and decode to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wamp_proto::{EncodeError, Serializer};

fuzz_target!(|data: &[u8]| {
    for ser in Serializer::ALL {
        if let Ok(msg) = ser.decode(data) {
            match ser.encode(&msg) {
                Ok(bytes) => {
                    let again = ser.decode(&bytes).expect("re-encoded message decodes");
                    assert_eq!(again, msg, "{ser} round trip");
                }
                Err(EncodeError::IntegerTooLarge { .. }) => {}
                Err(EncodeError::NonFiniteFloat) => {}
                Err(e) => panic!("{ser}: decoded message does not encode: {e}"),
            }
        }
    }
});

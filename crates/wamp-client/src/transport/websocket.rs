//! WebSocket opening handshake with WAMP subprotocol negotiation.

use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use url::Url;
use wamp_proto::Serializer;

use crate::error::TransportError;
use crate::transport::stream::Stream;

const SUBPROTOCOL_HEADER: &str = "Sec-WebSocket-Protocol";

/// The `Sec-WebSocket-Protocol` value offering `serializers` in order of preference.
pub fn offered_subprotocols(serializers: &[Serializer]) -> String {
    serializers
        .iter()
        .map(|s| s.ws_subprotocol())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The serializer the router chose, from its `Sec-WebSocket-Protocol` answer.
pub fn chosen_serializer(
    answer: Option<&str>,
    offered: &[Serializer],
) -> Result<Serializer, TransportError> {
    let answer = answer.map(str::trim).unwrap_or_default();
    offered
        .iter()
        .copied()
        .find(|s| s.ws_subprotocol() == answer)
        .ok_or_else(|| TransportError::NoSubprotocol {
            offered: offered_subprotocols(offered),
        })
}

/// Runs the WebSocket upgrade over `stream`, offering the WAMP subprotocols of `serializers`.
///
/// Incoming messages and frames larger than `max_message_size` fail the connection with
/// [`TransportError::MessageTooLarge`] before they are buffered in full.
pub async fn handshake(
    stream: Stream,
    url: &Url,
    serializers: &[Serializer],
    max_message_size: usize,
) -> Result<(WebSocketStream<Stream>, Serializer), TransportError> {
    let mut request = url.as_str().into_client_request()?;
    let offered = offered_subprotocols(serializers);
    let header = HeaderValue::from_str(&offered)
        .map_err(|e| TransportError::Protocol(format!("bad subprotocol header: {e}")))?;
    request.headers_mut().insert(SUBPROTOCOL_HEADER, header);
    let config = WebSocketConfig::default()
        .max_message_size(Some(max_message_size))
        .max_frame_size(Some(max_message_size));
    let (ws, response) =
        tokio_tungstenite::client_async_with_config(request, stream, Some(config)).await?;
    let answer = response
        .headers()
        .get(SUBPROTOCOL_HEADER)
        .and_then(|v| v.to_str().ok());
    let serializer = chosen_serializer(answer, serializers)?;
    Ok((ws, serializer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_and_picks_subprotocols() {
        let offered = [Serializer::Cbor, Serializer::MsgPack, Serializer::Json];
        assert_eq!(
            offered_subprotocols(&offered),
            "wamp.2.cbor, wamp.2.msgpack, wamp.2.json"
        );
        assert_eq!(
            chosen_serializer(Some("wamp.2.msgpack"), &offered).unwrap(),
            Serializer::MsgPack
        );
        assert!(matches!(
            chosen_serializer(None, &offered),
            Err(TransportError::NoSubprotocol { .. })
        ));
        assert!(matches!(
            chosen_serializer(Some("wamp.2.json"), &[Serializer::Cbor]),
            Err(TransportError::NoSubprotocol { .. })
        ));
    }
}

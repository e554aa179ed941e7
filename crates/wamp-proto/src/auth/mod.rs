//! Client-side authentication computations (ticket, WAMP-CRA, cryptosign, SCRAM).

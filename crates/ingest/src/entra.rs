//! Entra ID sign-ins: Graph `signIn` objects, Log Analytics sign-in rows, diagnostic records.
//! (Being written: see the task description for the signatures.)

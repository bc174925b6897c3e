//! File tokens: short-lived signed tokens that stand for a user in a download URL
//! (`?token=`), so an `<img src>` can show a protected file without an Authorization
//! header. Signed with the access-token secret but a different issuer, so a file token is
//! never accepted as an access token nor the reverse.

use crate::auth::{Caller, Principal};
use crate::{App, CoreError};
use tessera_auth::access_token::TokenError;

/// Lifetime of a file token, in seconds.
pub const FILE_TOKEN_TTL: i64 = 180;

/// A new file token.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileToken {
    pub token: String,
    /// Seconds until it expires.
    pub expires_in: i64,
}

impl App {
    /// Issues a file token for a signed-in user. API tokens cannot mint file tokens (an
    /// API client sends its token in the header anyway, and a file token carries no scopes).
    pub fn issue_file_token(&self, caller: &Caller) -> Result<FileToken, CoreError> {
        let principal = match caller {
            Caller::User(principal) if principal.scopes.is_none() => principal,
            Caller::User(_) => {
                return Err(CoreError::Forbidden("file tokens need an access token, not an API token".into()))
            }
            Caller::Anonymous | Caller::System => {
                return Err(CoreError::Unauthenticated("a file token needs a signed-in caller".into()))
            }
        };
        let token =
            self.auth().file_signer.issue(&principal.user_id.to_string(), &principal.role, self.now(), FILE_TOKEN_TTL);
        Ok(FileToken { token, expires_in: FILE_TOKEN_TTL })
    }

    /// The caller a file token stands for.
    pub fn file_token_caller(&self, token: &str) -> Result<Caller, CoreError> {
        let claims = self.auth().file_signer.verify(token.trim(), self.now()).map_err(|e| {
            CoreError::InvalidToken(match e {
                TokenError::Expired => "the file token has expired; request a new one".into(),
                _ => "the file token is not valid".into(),
            })
        })?;
        let user_id =
            claims.sub.parse::<i64>().map_err(|_| CoreError::InvalidToken("the file token is not valid".into()))?;
        Ok(Caller::User(Principal { user_id, role: claims.role, scopes: None }))
    }
}

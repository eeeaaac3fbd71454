//! Helpers shared by the integration tests: start an emulator, get a token, call Graph.
#![allow(dead_code)]

use graph_emulator::{Config, Emulator, RunningEmulator};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

pub async fn start(users: Value) -> RunningEmulator {
    start_with(Config::default(), users).await
}

pub async fn start_with(config: Config, users: Value) -> RunningEmulator {
    let config = config.with_tenant_json(users).expect("tenant");
    Emulator::start(config).await.expect("emulator starts")
}

/// A small tenant: a cloud user, a synced user, a disabled user.
pub fn sample_users() -> Value {
    json!({"value": [
        {
            "id": "3ab39606-c642-489b-84b6-58c038d3ef39",
            "userPrincipalName": "adam.anderson@example.com",
            "displayName": "Adam Anderson",
            "givenName": "Adam",
            "surname": "Anderson",
            "mail": "Adam.Anderson@example.com",
            "mailNickname": "adam.anderson",
            "proxyAddresses": ["SMTP:Adam.Anderson@example.com", "smtp:aanderson@example.net"],
            "accountEnabled": true,
            "jobTitle": "Sales Lead",
            "department": "Sales",
            "usageLocation": "NL",
            "onPremisesImmutableId": "BpazOkLGm0iEtljAONPvOQ==",
            "employeeId": "E100"
        },
        {
            "id": "11111111-0000-4000-8000-000000000002",
            "userPrincipalName": "synced.user@example.com",
            "displayName": "Synced User",
            "mail": "synced.user@example.com",
            "mailNickname": "synced.user",
            "proxyAddresses": ["SMTP:synced.user@example.com"],
            "accountEnabled": true,
            "onPremisesSyncEnabled": true,
            "onPremisesImmutableId": "AAAAAAAAAAAAAAAAAAAAAA==",
            "jobTitle": "Engineer"
        },
        {
            "id": "11111111-0000-4000-8000-000000000003",
            "userPrincipalName": "alva.wood@example.com",
            "displayName": "Alva Wood",
            "mailNickname": "alva.wood",
            "accountEnabled": false,
            "customThing": {"kept": true}
        }
    ]})
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder().build().expect("client")
}

pub async fn token_response(emu: &RunningEmulator, form: &[(&str, &str)]) -> (u16, Value) {
    let r = http()
        .post(emu.token_url())
        .form(form)
        .send()
        .await
        .expect("token request");
    let status = r.status().as_u16();
    (status, r.json().await.expect("token JSON"))
}

pub async fn token(emu: &RunningEmulator) -> String {
    let (status, body) = token_response(
        emu,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", emu.client_id()),
            ("client_secret", emu.client_secret()),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

/// A Graph caller with a token.
pub struct Graph {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
}

pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("")
    }
}

pub async fn answer(r: reqwest::Response) -> Answer {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
        text,
    }
}

impl Graph {
    pub async fn new(emu: &RunningEmulator) -> Graph {
        Graph {
            http: http(),
            base: emu.base_url().to_string(),
            token: token(emu).await,
        }
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}/v1.0{}", self.base, path)
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.get_with(path, &[]).await
    }

    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        let mut rb = self.http.get(self.url(path)).bearer_auth(&self.token);
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        answer(rb.send().await.expect("GET")).await
    }

    /// GET with `ConsistencyLevel: eventual` (advanced queries).
    pub async fn get_eventual(&self, path: &str) -> Answer {
        self.get_with(path, &[("ConsistencyLevel", "eventual")])
            .await
    }

    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Answer {
        let mut rb = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        answer(rb.send().await.expect("request")).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Answer {
        self.send(reqwest::Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.send(reqwest::Method::DELETE, path, None).await
    }

    /// Follows `@odata.nextLink` to the end; returns every item and the number of pages.
    pub async fn all_pages(&self, first: &str) -> (Vec<Value>, usize) {
        let mut items = Vec::new();
        let mut pages = 0;
        let mut url = first.to_string();
        loop {
            let a = self.get(&url).await;
            assert_eq!(a.status, 200, "{}", a.text);
            pages += 1;
            items.extend(a.body["value"].as_array().cloned().unwrap_or_default());
            match a.body["@odata.nextLink"].as_str() {
                Some(next) => url = next.to_string(),
                None => return (items, pages),
            }
        }
    }
}

/// `n` generated users `user00000@example.com`...
pub fn many_users(n: usize) -> Value {
    let users: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "userPrincipalName": format!("user{i:05}@example.com"),
                "displayName": format!("User {i:05}"),
                "mailNickname": format!("user{i:05}"),
                "accountEnabled": true,
            })
        })
        .collect();
    json!({ "value": users })
}

pub fn new_user(upn: &str) -> Value {
    json!({
        "accountEnabled": true,
        "displayName": "New Person",
        "mailNickname": upn.split('@').next().unwrap(),
        "userPrincipalName": upn,
        "passwordProfile": {"forceChangePasswordNextSignIn": true, "password": "xWwvJ]6NMw+bWH-d"}
    })
}

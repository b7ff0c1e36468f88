/** Sign in or create an account; the form stays the same, only the REST call differs. */
import { useState } from "react";
import type { FormEvent } from "react";

import { useSession } from "../auth/SessionContext";

type Mode = "login" | "register";

export function AuthScreen() {
  const { login, register } = useSession();
  const [mode, setMode] = useState<Mode>("login");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await (mode === "login" ? login : register)(username.trim(), password);
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
      setBusy(false);
    }
  };

  return (
    <main className="auth">
      <section className="auth__hero" aria-hidden="true">
        <div className="brand brand--large">
          <span className="brand__mark">b</span> Baatcheet
        </div>
        <p className="auth__tagline">Conversations that keep up with you.</p>
        <ul className="auth__points">
          <li>Live typing, presence and read receipts</li>
          <li>Messages wait for you when the network doesn't</li>
          <li>Rooms for the team, DMs for the rest</li>
        </ul>
      </section>
      <section className="auth__panel">
        <form className="auth__form" onSubmit={(e) => void submit(e)} data-testid="auth-form">
          <div className="tabs" role="tablist">
            <button
              type="button"
              role="tab"
              aria-selected={mode === "login"}
              className={mode === "login" ? "tab tab--active" : "tab"}
              onClick={() => setMode("login")}
              data-testid="auth-mode-login"
            >
              Sign in
            </button>
            <button
              type="button"
              role="tab"
              aria-selected={mode === "register"}
              className={mode === "register" ? "tab tab--active" : "tab"}
              onClick={() => setMode("register")}
              data-testid="auth-mode-register"
            >
              Create account
            </button>
          </div>
          <h1 className="auth__title">
            {mode === "login" ? "Welcome back" : "Join the conversation"}
          </h1>
          <label className="field">
            <span>Username</span>
            <input
              autoComplete="username"
              autoFocus
              required
              value={username}
              onChange={(e) => setUsername(e.target.value)}
              data-testid="auth-username"
            />
          </label>
          <label className="field">
            <span>Password</span>
            <input
              type="password"
              autoComplete={mode === "login" ? "current-password" : "new-password"}
              required
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              data-testid="auth-password"
            />
          </label>
          {error !== null && (
            <p className="auth__error" role="alert" data-testid="auth-error">
              {error}
            </p>
          )}
          <button className="button button--primary" disabled={busy} data-testid="auth-submit">
            {busy ? "Please wait…" : mode === "login" ? "Sign in" : "Create account"}
          </button>
        </form>
      </section>
    </main>
  );
}

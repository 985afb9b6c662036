// The REST half of the API (README.md, "REST API"): JSON over HTTPS with `Authorization: Bearer <JWT>`.
// Every error has the same shape, {"error": {"code", "message", "details"?}}: ApiError carries it.

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export class Api {
  constructor(apiUrl, token) {
    this.apiUrl = apiUrl;
    this.token = token;
  }

  async request(method, path, body) {
    const headers = { Authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(this.apiUrl + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const payload = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = payload.error || {};
      throw new ApiError(
        response.status,
        error.code || "http_error",
        error.message || response.statusText,
        error.details,
      );
    }
    return payload;
  }

  // The caller's conversations, most recent activity first, with unreadCount, lastMessage, otherParticipant
  // (with `online`) and `totalUnread`. One page is enough for a demo; `nextCursor` pages on.
  listConversations() {
    return this.request("GET", "/api/messages/conversations?limit=30");
  }

  // Get or create the caller's conversation with a pattern's creator (a buyer needs a purchase).
  openPatternConversation(patternId) {
    return this.request("GET", `/api/messages/pattern/${encodeURIComponent(patternId)}`);
  }

  // One conversation in detail and its newest page of messages (chronological).
  openConversation(conversationId) {
    return this.request("GET", `/api/messages?conversationId=${encodeURIComponent(conversationId)}`);
  }

  // The REST twin of the socket's new_message: used when the socket is down. Same clientMessageId = same message.
  sendMessage(message) {
    return this.request("POST", "/api/messages", message);
  }

  // The REST twins of edit_message, delete_message and add_reaction / remove_reaction: each answers {message}.
  editMessage(messageId, content) {
    return this.request("PATCH", `/api/messages/${encodeURIComponent(messageId)}`, { content });
  }

  deleteMessage(messageId) {
    return this.request("DELETE", `/api/messages/${encodeURIComponent(messageId)}`);
  }

  // The emoji goes into the path as URL-encoded UTF-8.
  react(messageId, emoji, add) {
    const path = `/api/messages/${encodeURIComponent(messageId)}/reactions/${encodeURIComponent(emoji)}`;
    return this.request(add ? "PUT" : "DELETE", path);
  }

  // The REST twin of the socket's message_read: everything up to this message is read.
  markRead(messageId) {
    return this.request("PUT", `/api/messages/${encodeURIComponent(messageId)}/read`, { markConversation: false });
  }

  // Catch-up after being offline. Without `since`: no messages, and a cursor for "now".
  sync(since) {
    const query = since ? `?since=${encodeURIComponent(since)}` : "";
    return this.request("GET", `/api/messages/sync${query}`);
  }

  // Step 1 of an attachment: a presigned POST for exactly this file (key, type and size are pinned).
  requestUpload(conversationId, file) {
    return this.request("POST", "/api/attachments", {
      conversationId,
      fileName: file.name || "photo",
      contentType: file.type,
      size: file.size,
    });
  }

  // Fresh download URLs of an attachment (presigned URLs expire after 15 minutes).
  getAttachment(attachmentId) {
    return this.request("GET", `/api/attachments/${encodeURIComponent(attachmentId)}`);
  }
}

// Step 2 of an attachment: the browser posts the file straight to S3, never through the API. A multipart form with
// every signed field first and the file last (S3 ignores fields after `file`). This is a cross-origin request to
// the bucket: it works only if the bucket's CORS rule lists this page's origin (ALLOWED_ORIGINS).
export async function uploadToS3(upload, file) {
  const form = new FormData();
  for (const [name, value] of Object.entries(upload.fields)) form.append(name, value);
  form.append("file", file);
  const response = await fetch(upload.url, { method: "POST", body: form });
  if (!response.ok) throw new ApiError(response.status, "upload_failed", `S3 refused the upload (${response.status})`);
}

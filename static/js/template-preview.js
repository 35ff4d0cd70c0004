// Keep the email frame of the template editor in step with the form: on each change (debounced)
// submit the form to the frame through the "Preview email" button, and show the frame only for
// email templates. Without this script the button still does it by hand.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("template-form");
  const button = document.getElementById("email-preview-button");
  const box = document.getElementById("email-frame-box");
  if (!form || !button || !box) return;
  const channel = form.querySelector("select[name='channel']");
  let timer = 0;
  const refresh = () => {
    const email = !channel || channel.value === "email";
    box.hidden = !email;
    if (!email) return;
    clearTimeout(timer);
    timer = setTimeout(() => form.requestSubmit(button), 400);
  };
  form.addEventListener("input", refresh);
  form.addEventListener("change", refresh);
  refresh();
});

/* wagtail-member-access: the access-list search of the "Change privacy" dialog
   (admin/privacy_dialog.py). The dialog's HTML arrives later, so listen on the document. */
document.addEventListener('input', (event) => {
  const search = event.target;
  if (!search.matches || !search.matches('[data-wma-list-search]')) return;
  const query = search.value.trim().toLowerCase();
  const lists = search.closest('[data-wma-lists]');
  if (!lists) return;
  lists.querySelectorAll('input[name="member-access_lists"]').forEach((checkbox) => {
    const option = checkbox.closest('label') || checkbox.parentElement;
    const text = option.textContent.trim().toLowerCase();
    // Ticked lists stay visible: what will be saved is always in view.
    option.hidden = Boolean(query) && !checkbox.checked && !text.includes(query);
  });
});

/* After saving, Wagtail's dialog switches its own Public/Private line (the "set_privacy_done"
   step, privacy-switch.js) but knows nothing of "Who may view" below it. The step's JSON
   carries that section as saved (wma_status_html): put it in place of the stale one, without
   reloading the editor. Wagtail's dialog posts with jQuery, whose global ajaxSuccess event
   follows Wagtail's own handling of the response. */
(() => {
  const wmaListenForPrivacySaves = () => {
    if (!window.jQuery) return;
    window.jQuery(document).on('ajaxSuccess', (event, xhr) => {
      const slot = document.querySelector('[data-wma-status-slot]');
      if (!slot || !xhr || typeof xhr.responseText !== 'string') return;
      let data;
      try {
        data = JSON.parse(xhr.responseText);
      } catch (error) {
        return; // not a dialog step
      }
      if (!data || data.step !== 'set_privacy_done' || typeof data.wma_status_html !== 'string') {
        return;
      }
      slot.innerHTML = data.wma_status_html;
      slot.hidden = !data.wma_status_html.trim();
    });
  };
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', wmaListenForPrivacySaves);
  } else {
    wmaListenForPrivacySaves();
  }
})();

"""The Streamlit UI: a thin shell over qa and index. `groundwork ui` runs app/ui/main.py."""
